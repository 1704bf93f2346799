import { GuardDutyClient } from "@aws-sdk/client-guardduty";
import { STSClient } from "@aws-sdk/client-sts";
import { describe, expect, it, vi } from "vitest";
import { MemberAcceptance } from "#shared/acceptance";
import type { OnboardingRequest } from "#shared/message";
import type { CellOutcome } from "#shared/outcomes";
import { type Cell, type Plan, pairOf } from "#shared/plan";
import { DEFAULT_PROFILE } from "#shared/protection";
import { acceptInvitations } from "#shared/stages/accept-invitations";
import { accountIds } from "../support/events.ts";

const ADMIN = "111111111111";
const A = "222222222222";
const B = "333333333333";

/** A member side whose `accept` answers through `answer`, recording what it was asked. */
function memberAcceptance(
  answer: (accountId: string, regions: readonly string[]) => Promise<Map<string, CellOutcome>>,
) {
  const acceptance = new MemberAcceptance(
    new STSClient({ region: "us-east-1" }),
    (region, credentials) => new GuardDutyClient({ region, credentials }),
    {
      roleName: "GuardDutyOnboardingMember",
      administratorAccountId: ADMIN,
      sessionName: "test",
      sourceIdentity: false,
      protection: DEFAULT_PROFILE,
    },
  );
  const accept = vi
    .spyOn(acceptance, "accept")
    .mockImplementation((accountId: string, regions: readonly string[]) => answer(accountId, regions));
  return { acceptance, accept };
}
const enabledEverywhere = async (_: string, regions: readonly string[]) =>
  new Map(regions.map((region): [string, CellOutcome] => [region, { outcome: "enabled" }]));

const request = (accountId: string): OnboardingRequest => ({
  version: 1,
  accountId,
  attempt: 0,
  origin: "retry",
  step: "accept",
});
const cell = (messageId: string, accountId: string, region: string, fields: Partial<Cell> = {}): Cell => ({
  messageId,
  request: request(accountId),
  region,
  ...fields,
});
const outcomes = (plan: Plan) => plan.cells.map((each) => [pairOf(each), each.outcome]);

describe("acceptInvitations", () => {
  it("enters each member account once for all its regions, across the messages of the batch", async () => {
    const { acceptance, accept } = memberAcceptance(enabledEverywhere);

    const decided = await acceptInvitations(
      acceptance,
      4,
    )({
      cells: [
        cell("m1", A, "us-east-1"),
        cell("m1", A, "eu-west-1"),
        cell("m2", B, "eu-west-1"),
        cell("m3", A, "us-east-1"),
      ],
      notes: [],
    });

    expect(accept.mock.calls.map(([accountId, regions]) => [accountId, regions])).toEqual([
      [A, ["us-east-1", "eu-west-1"]],
      [B, ["eu-west-1"]],
    ]);
    expect(decided.cells.every((each) => each.outcome?.outcome === "enabled")).toBe(true);
  });

  it("decides each (account, region) with the member side's answer for it", async () => {
    const { acceptance } = memberAcceptance(async () => {
      return new Map<string, CellOutcome>([
        ["us-east-1", { outcome: "enabled" }],
        [
          "eu-west-1",
          { outcome: "retry", reason: "invitation-not-found", detail: "not yet", step: "accept" },
        ],
      ]);
    });

    const decided = await acceptInvitations(
      acceptance,
      4,
    )({
      cells: [cell("m1", A, "us-east-1"), cell("m1", A, "eu-west-1")],
      notes: [],
    });

    expect(outcomes(decided)).toEqual([
      [`${A}/us-east-1`, { outcome: "enabled" }],
      [
        `${A}/eu-west-1`,
        { outcome: "retry", reason: "invitation-not-found", detail: "not yet", step: "accept" },
      ],
    ]);
  });

  it("enters at most `concurrency` member accounts at once, and every account of the batch in the end", async () => {
    let inFlight = 0;
    let most = 0;
    const { acceptance, accept } = memberAcceptance(async (accountId, regions) => {
      inFlight++;
      most = Math.max(most, inFlight);
      await new Promise((resolve) => setTimeout(resolve, 5));
      inFlight--;
      return enabledEverywhere(accountId, regions);
    });
    const ids = accountIds(12);

    const decided = await acceptInvitations(
      acceptance,
      3,
    )({
      cells: ids.map((id, index) => cell(`m${index}`, id, "us-east-1")),
      notes: [],
    });

    expect(most).toBe(3);
    expect(accept).toHaveBeenCalledTimes(12);
    expect(decided.cells.every((each) => each.outcome?.outcome === "enabled")).toBe(true);
  });

  it("retries a region the member side gave no answer for as service-unavailable, resuming at acceptance", async () => {
    const { acceptance } = memberAcceptance(
      async () => new Map<string, CellOutcome>([["us-east-1", { outcome: "enabled" }]]),
    );

    const decided = await acceptInvitations(
      acceptance,
      4,
    )({
      cells: [cell("m1", A, "us-east-1"), cell("m1", A, "eu-west-1")],
      notes: [],
    });

    expect(decided.cells[1]?.outcome).toEqual({
      outcome: "retry",
      reason: "service-unavailable",
      detail: "the member side gave no answer",
      step: "accept",
    });
  });

  it("leaves cells an earlier stage decided alone and does not enter their accounts", async () => {
    const { acceptance, accept } = memberAcceptance(enabledEverywhere);
    const decidedBefore: CellOutcome = { outcome: "dead-letter", reason: "invalid-message" };

    const decided = await acceptInvitations(
      acceptance,
      4,
    )({
      cells: [cell("m1", A, "us-east-1", { outcome: decidedBefore }), cell("m2", B, "us-east-1")],
      notes: [],
    });

    expect(accept.mock.calls.map(([accountId]) => accountId)).toEqual([B]);
    expect(decided.cells[0]?.outcome).toBe(decidedBefore);
  });

  it("passes the batch's abort signal on to the member side", async () => {
    const { acceptance, accept } = memberAcceptance(enabledEverywhere);
    const signal = new AbortController().signal;

    await acceptInvitations(acceptance, 4)({ cells: [cell("m1", A, "us-east-1")], notes: [] }, signal);

    expect(accept.mock.calls[0]?.[2]).toBe(signal);
  });
});
