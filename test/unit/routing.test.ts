import { describe, expect, it } from "vitest";
import { MAX_DELAY_SECONDS, retryDelaySeconds } from "#shared/backoff";
import type { RegionOutcome } from "#shared/members";
import type { OnboardingRequest } from "#shared/message";
import { deadLetterInvalid, routeOutcomes } from "#shared/routing";

const request: OnboardingRequest = {
  version: 1,
  accountId: "222222222222",
  attempt: 0,
  origin: "event",
  correlationId: "evt-1",
};
const policy = { maxAttempts: 3, retryBaseDelaySeconds: 30, random: () => 0.5 };
const at = "2026-11-26T06:00:00.000Z";
const outcomes = (entries: [string, RegionOutcome][]) => new Map(entries);
const bodies = (list: ReturnType<typeof routeOutcomes>) => list.map((message) => JSON.parse(message.body));

describe("routeOutcomes", () => {
  it("routes nothing when every region reached a terminal outcome", () => {
    const routed = routeOutcomes(
      "m1",
      request,
      outcomes([
        ["us-east-1", { outcome: "invited" }],
        ["eu-west-1", { outcome: "already", reason: "already-member" }],
        ["eu-central-1", { outcome: "skipped", reason: "account-not-active" }],
      ]),
      policy,
      at,
    );

    expect(routed).toEqual([]);
  });

  it("sends one retry carrying only the failing regions, the next attempt and a delay", () => {
    const routed = routeOutcomes(
      "m1",
      request,
      outcomes([
        ["us-east-1", { outcome: "invited" }],
        ["eu-west-1", { outcome: "retry", reason: "throttled", detail: "slow down" }],
        ["eu-central-1", { outcome: "retry", reason: "service-unavailable", detail: "503" }],
      ]),
      policy,
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
    const routed = routeOutcomes(
      "m1",
      request,
      outcomes([
        [
          "us-east-1",
          { outcome: "dead-letter", reason: "guardduty-not-enabled-in-region", detail: "no detector" },
        ],
        [
          "eu-west-1",
          { outcome: "dead-letter", reason: "already-member-of-another-administrator", detail: "x" },
        ],
      ]),
      policy,
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

  it("dead-letters retries-exhausted per region with the last error once attempts are spent", () => {
    const routed = routeOutcomes(
      "m1",
      { ...request, attempt: 2 },
      outcomes([["eu-west-1", { outcome: "retry", reason: "unrecognized-result", detail: "Weird text" }]]),
      policy,
      at,
    );

    expect(routed).toHaveLength(1);
    expect(routed[0]?.destination).toBe("dead-letter");
    expect(bodies(routed)[0]).toMatchObject({
      reason: "retries-exhausted",
      detail: "after 3 attempts, last unrecognized-result: Weird text",
      region: "eu-west-1",
      attempt: 2,
    });
  });
});

describe("routeOutcomes with the member-side step", () => {
  it("retries regions that failed at acceptance in their own message, resuming at acceptance", () => {
    const routed = routeOutcomes(
      "m1",
      request,
      outcomes([
        ["us-east-1", { outcome: "retry", reason: "throttled", detail: "x" }],
        ["eu-west-1", { outcome: "retry", reason: "invitation-not-found", detail: "y", step: "accept" }],
      ]),
      policy,
      at,
    );

    expect(bodies(routed).map((body) => [body.regions, body.step])).toEqual([
      [["us-east-1"], undefined],
      [["eu-west-1"], "accept"],
    ]);
  });

  it("dead-letters a member-side failure with a request that replays at acceptance", () => {
    const routed = routeOutcomes(
      "m1",
      request,
      outcomes([
        [
          "eu-west-1",
          { outcome: "dead-letter", reason: "member-role-not-assumable", detail: "denied", step: "accept" },
        ],
      ]),
      policy,
      at,
    );

    expect(bodies(routed)[0]).toMatchObject({
      reason: "member-role-not-assumable",
      request: { accountId: "222222222222", regions: ["eu-west-1"], step: "accept" },
    });
  });
});

describe("deadLetterInvalid", () => {
  it("keeps the original body verbatim in raw", () => {
    const raw = '{"broken": tru';

    const message = deadLetterInvalid("m9", raw, "body is not JSON", at);

    expect(message.destination).toBe("dead-letter");
    expect(JSON.parse(message.body)).toEqual({
      reason: "invalid-message",
      detail: "body is not JSON",
      at,
      raw,
    });
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
