import { describe, expect, it } from "vitest";
import { MAX_DELAY_SECONDS, retryDelaySeconds } from "#shared/backoff";
import type { OnboardingRequest } from "#shared/message";
import type { CellOutcome } from "#shared/outcomes";
import type { Plan } from "#shared/plan";
import { type RoutingPolicy, route } from "#shared/routing";
import { exhaustRetries } from "#shared/stages/exhaust-retries";

const request: OnboardingRequest = {
  version: 1,
  accountId: "222222222222",
  attempt: 0,
  origin: "event",
  correlationId: "evt-1",
};
const onboard: RoutingPolicy = {
  retryBaseDelaySeconds: 30,
  handOffAcceptance: true,
  retryTo: "retry",
  random: () => 0.5,
};
const at = "2026-11-26T06:00:00.000Z";

/** A plan of one message whose (account, region) cells are decided as given. */
function plan(outcomes: [string, CellOutcome][], from: OnboardingRequest = request): Plan {
  return {
    cells: outcomes.map(([region, outcome]) => ({ messageId: "m1", request: from, region, outcome })),
    notes: [],
  };
}
const bodies = (list: ReturnType<typeof route>) => list.map((message) => JSON.parse(message.body));

describe("route", () => {
  it("routes nothing when every region reached a terminal outcome the member side does not need", () => {
    const routed = route(
      plan([
        ["us-east-1", { outcome: "enabled" }],
        ["eu-west-1", { outcome: "already", reason: "already-member", memberStatus: "Enabled" }],
        ["eu-central-1", { outcome: "skipped", reason: "account-not-active" }],
      ]),
      onboard,
      at,
    );

    expect(routed).toEqual([]);
  });

  it("sends one retry carrying only the failing regions, the next attempt and a delay", () => {
    const routed = route(
      plan([
        ["us-east-1", { outcome: "enabled" }],
        ["eu-west-1", { outcome: "retry", reason: "throttled", detail: "slow down" }],
        ["eu-central-1", { outcome: "retry", reason: "service-unavailable", detail: "503" }],
      ]),
      onboard,
      at,
    );

    expect(routed).toHaveLength(1);
    expect(routed[0]).toMatchObject({ sourceId: "m1", destination: "retry", delaySeconds: 23 });
    expect(bodies(routed)[0]).toEqual({
      ...request,
      attempt: 1,
      origin: "retry",
      regions: ["eu-west-1", "eu-central-1"],
      lastError: { reason: "throttled", detail: "slow down", region: "eu-west-1" },
    });
  });

  it("dead-letters each permanently failed region on its own, with a replayable request", () => {
    const routed = route(
      plan([
        [
          "us-east-1",
          { outcome: "dead-letter", reason: "guardduty-not-enabled-in-region", detail: "no detector" },
        ],
        [
          "eu-west-1",
          { outcome: "dead-letter", reason: "already-member-of-another-administrator", detail: "x" },
        ],
      ]),
      onboard,
      at,
    );

    expect(routed.map((message) => message.destination)).toEqual(["dead-letter", "dead-letter"]);
    expect(bodies(routed)[0]).toEqual({
      reason: "guardduty-not-enabled-in-region",
      detail: "no detector",
      accountId: "222222222222",
      region: "us-east-1",
      at,
      attempt: 0,
      correlationId: "evt-1",
      request: { ...request, regions: ["us-east-1"] },
    });
    expect(bodies(routed)[1]).toMatchObject({ region: "eu-west-1", request: { regions: ["eu-west-1"] } });
  });

  it("hands the invited regions to the member side in one request that resumes at acceptance, with fresh attempts", () => {
    const routed = route(
      plan(
        [
          ["us-east-1", { outcome: "invited", memberStatus: "Invited" }],
          ["eu-west-1", { outcome: "already", reason: "already-member", memberStatus: "Invited" }],
          ["eu-central-1", { outcome: "already", reason: "already-member", memberStatus: "Enabled" }],
        ],
        { ...request, attempt: 3, lastError: { reason: "throttled", detail: "x" } },
      ),
      onboard,
      at,
    );

    expect(routed.map((message) => message.destination)).toEqual(["accept"]);
    expect(bodies(routed)[0]).toEqual({
      ...request,
      attempt: 0,
      regions: ["us-east-1", "eu-west-1"],
      step: "accept",
    });
  });

  it("does not hand off when the member side is off (members accept by themselves)", () => {
    const routed = route(
      plan([["us-east-1", { outcome: "invited" }]]),
      { ...onboard, handOffAcceptance: false },
      at,
    );

    expect(routed).toEqual([]);
  });

  it("keeps a body that is no contract verbatim in its dead letter", () => {
    const raw = '{"broken": tru';

    const routed = route(
      {
        cells: [],
        notes: [
          {
            messageId: "m9",
            outcome: "dead-letter",
            reason: "invalid-message",
            detail: "body is not JSON",
            raw,
          },
        ],
      },
      onboard,
      at,
    );

    expect(routed).toEqual([{ sourceId: "m9", destination: "dead-letter", body: expect.any(String) }]);
    expect(bodies(routed)[0]).toEqual({ reason: "invalid-message", detail: "body is not JSON", at, raw });
  });
});

describe("route, the member side's failures", () => {
  const accept: RoutingPolicy = { ...onboard, handOffAcceptance: false, retryTo: "accept" };

  it("retries regions that failed at acceptance in their own message, on the member side's queue", () => {
    const routed = route(
      plan([
        ["us-east-1", { outcome: "retry", reason: "throttled", detail: "x" }],
        ["eu-west-1", { outcome: "retry", reason: "invitation-not-found", detail: "y", step: "accept" }],
      ]),
      accept,
      at,
    );

    expect(
      routed.map((message) => [
        message.destination,
        JSON.parse(message.body).regions,
        JSON.parse(message.body).step,
      ]),
    ).toEqual([
      ["retry", ["us-east-1"], undefined],
      ["accept", ["eu-west-1"], "accept"],
    ]);
  });

  it("dead-letters a member-side failure with a request that replays at acceptance", () => {
    const routed = route(
      plan([
        [
          "eu-west-1",
          { outcome: "dead-letter", reason: "member-role-not-assumable", detail: "denied", step: "accept" },
        ],
      ]),
      accept,
      at,
    );

    expect(bodies(routed)[0]).toMatchObject({
      reason: "member-role-not-assumable",
      request: { accountId: "222222222222", regions: ["eu-west-1"], step: "accept" },
    });
  });
});

describe("exhaustRetries", () => {
  it("dead-letters a retry as retries-exhausted, with the last error, once attempts are spent", async () => {
    const decided = await exhaustRetries(3)(
      plan(
        [
          [
            "eu-west-1",
            { outcome: "retry", reason: "unrecognized-result", detail: "Weird text", step: "accept" },
          ],
          ["us-east-1", { outcome: "enabled" }],
        ],
        { ...request, attempt: 2 },
      ),
    );

    expect(decided.cells.map((cell) => cell.outcome)).toEqual([
      {
        outcome: "dead-letter",
        reason: "retries-exhausted",
        detail: "after 3 attempts, last unrecognized-result: Weird text",
        step: "accept",
      },
      { outcome: "enabled" },
    ]);
    expect(bodies(route(decided, onboard, at))[0]).toMatchObject({ reason: "retries-exhausted", attempt: 2 });
  });

  it("keeps a retry that has attempts left", async () => {
    const retry: CellOutcome = { outcome: "retry", reason: "throttled", detail: "x" };

    const decided = await exhaustRetries(3)(plan([["eu-west-1", retry]], { ...request, attempt: 1 }));

    expect(decided.cells[0]?.outcome).toEqual(retry);
  });
});

describe("retryDelaySeconds", () => {
  it("doubles per attempt with jitter between half and all of the ceiling", () => {
    expect(retryDelaySeconds(0, 30, () => 0)).toBe(15);
    expect(retryDelaySeconds(0, 30, () => 1)).toBe(30);
    expect(retryDelaySeconds(3, 30, () => 0)).toBe(120);
    expect(retryDelaySeconds(3, 30, () => 1)).toBe(240);
  });

  it("never exceeds SQS's 900-second DelaySeconds", () => {
    for (let attempt = 0; attempt < 40; attempt++) {
      expect(retryDelaySeconds(attempt, 30, () => 1)).toBeLessThanOrEqual(MAX_DELAY_SECONDS);
    }
    expect(retryDelaySeconds(10, 30, () => 1)).toBe(MAX_DELAY_SECONDS);
  });
});

describe("routing a message that asks for several accounts (a tamper signal)", () => {
  it("routes each account's cells with its own request", () => {
    const other: OnboardingRequest = { ...request, accountId: "333333333333" };
    const retry: CellOutcome = { outcome: "retry", reason: "throttled", detail: "slow down" };
    const dead: CellOutcome = { outcome: "dead-letter", reason: "not-in-organization", detail: "gone" };
    const tamper: Plan = {
      cells: [
        { messageId: "m1", request, region: "us-east-1", outcome: retry },
        { messageId: "m1", request: other, region: "us-east-1", outcome: dead },
        { messageId: "m1", request: other, region: "eu-west-1", outcome: retry },
      ],
      notes: [],
    };

    const routed = route(tamper, onboard, at);

    expect(
      routed.map((message) => [
        message.destination,
        JSON.parse(message.body).accountId ?? JSON.parse(message.body).request.accountId,
      ]),
    ).toEqual([
      ["retry", "222222222222"],
      ["dead-letter", "333333333333"],
      ["retry", "333333333333"],
    ]);
    expect(bodies(routed)[2]).toMatchObject({ regions: ["eu-west-1"], attempt: 1 });
  });
});
