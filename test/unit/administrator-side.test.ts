import { GuardDutyClient } from "@aws-sdk/client-guardduty";
import { describe, expect, it, vi } from "vitest";
import { type MemberAccount, RegionMembers } from "#shared/members";
import type { OnboardingRequest } from "#shared/message";
import type { CellOutcome } from "#shared/outcomes";
import { type Cell, type Plan, pairOf } from "#shared/plan";
import { administratorSide } from "#shared/stages/administrator-side";

const A = "222222222222";
const B = "333333333333";
const C = "444444444444";

/**
 * A region's members whose `onboard` answers `answer` for each account (nothing when it answers
 * undefined), recording what it was asked.
 */
function regionMembers(region: string, answer: (accountId: string) => CellOutcome | undefined) {
  const members = new RegionMembers(new GuardDutyClient({ region }), {
    mode: "invitation",
    disableEmailNotification: true,
  });
  const onboard = vi
    .spyOn(members, "onboard")
    .mockImplementation(async (accounts: readonly MemberAccount[]) => {
      const outcomes = new Map<string, CellOutcome>();
      for (const { accountId } of accounts) {
        const outcome = answer(accountId);
        if (outcome) outcomes.set(accountId, outcome);
      }
      return outcomes;
    });
  return { members, onboard };
}

const request = (accountId: string, fields: Partial<OnboardingRequest> = {}): OnboardingRequest => ({
  version: 1,
  accountId,
  attempt: 0,
  origin: "event",
  ...fields,
});
const cell = (messageId: string, accountId: string, region: string, fields: Partial<Cell> = {}): Cell => ({
  messageId,
  request: request(accountId),
  region,
  email: `owner+${accountId}@example.com`,
  ...fields,
});
const outcomes = (plan: Plan) => plan.cells.map((each) => [each.messageId, pairOf(each), each.outcome]);
const invited: CellOutcome = { outcome: "invited", memberStatus: "Invited" };

describe("administratorSide", () => {
  it("asks each region once for all its pending accounts, with their e-mails, and decides each cell with its answer", async () => {
    const east = regionMembers("us-east-1", () => invited);
    const west = regionMembers("eu-west-1", (id) =>
      id === B ? { outcome: "retry", reason: "throttled", detail: "slow down" } : invited,
    );
    const stage = administratorSide(
      new Map([
        ["us-east-1", east.members],
        ["eu-west-1", west.members],
      ]),
    );

    const decided = await stage({
      cells: [
        cell("m1", A, "us-east-1"),
        cell("m1", A, "eu-west-1"),
        cell("m2", B, "us-east-1"),
        cell("m2", B, "eu-west-1"),
      ],
      notes: [],
    });

    expect(east.onboard).toHaveBeenCalledTimes(1);
    expect(east.onboard.mock.calls[0]?.[0]).toEqual([
      { accountId: A, email: `owner+${A}@example.com` },
      { accountId: B, email: `owner+${B}@example.com` },
    ]);
    expect(west.onboard).toHaveBeenCalledTimes(1);
    expect(outcomes(decided)).toEqual([
      ["m1", `${A}/us-east-1`, invited],
      ["m1", `${A}/eu-west-1`, invited],
      ["m2", `${B}/us-east-1`, invited],
      ["m2", `${B}/eu-west-1`, { outcome: "retry", reason: "throttled", detail: "slow down" }],
    ]);
  });

  it("coalesces a duplicate (account, region) of a batch into one account of the call, and decides both cells alike", async () => {
    const east = regionMembers("us-east-1", () => invited);
    const stage = administratorSide(new Map([["us-east-1", east.members]]));

    const decided = await stage({
      cells: [cell("first", A, "us-east-1"), cell("duplicate", A, "us-east-1")],
      notes: [],
    });

    expect(east.onboard.mock.calls[0]?.[0]).toEqual([{ accountId: A, email: `owner+${A}@example.com` }]);
    expect(decided.cells.map((each) => each.outcome)).toEqual([invited, invited]);
  });

  it("decides cells resuming at acceptance as invited without asking GuardDuty for them", async () => {
    const east = regionMembers("us-east-1", () => invited);
    const stage = administratorSide(new Map([["us-east-1", east.members]]));

    const decided = await stage({
      cells: [cell("m1", A, "us-east-1", { request: request(A, { step: "accept" }), email: undefined })],
      notes: [],
    });

    expect(east.onboard).not.toHaveBeenCalled();
    expect(decided.cells[0]?.outcome).toEqual({ outcome: "invited", memberStatus: "Invited" });
  });

  it("retries as service-unavailable a cell its region gave no answer for", async () => {
    const east = regionMembers("us-east-1", (id) => (id === A ? invited : undefined));
    const stage = administratorSide(new Map([["us-east-1", east.members]]));

    const decided = await stage({
      cells: [cell("m1", A, "us-east-1"), cell("m2", B, "us-east-1")],
      notes: [],
    });

    expect(decided.cells[1]?.outcome).toEqual({
      outcome: "retry",
      reason: "service-unavailable",
      detail: "no GuardDuty answer for this account",
    });
  });

  it("leaves cells decided by an earlier stage alone and does not ask GuardDuty for them", async () => {
    const east = regionMembers("us-east-1", () => invited);
    const skipped: CellOutcome = { outcome: "skipped", reason: "account-not-active" };
    const stage = administratorSide(new Map([["us-east-1", east.members]]));

    const decided = await stage({
      cells: [cell("m1", A, "us-east-1", { outcome: skipped, email: undefined }), cell("m2", C, "us-east-1")],
      notes: [],
    });

    expect(east.onboard.mock.calls[0]?.[0]).toEqual([{ accountId: C, email: `owner+${C}@example.com` }]);
    expect(decided.cells[0]?.outcome).toBe(skipped);
  });

  it("does not call a region that has no pending account", async () => {
    const east = regionMembers("us-east-1", () => invited);
    const west = regionMembers("eu-west-1", () => invited);
    const stage = administratorSide(
      new Map([
        ["us-east-1", east.members],
        ["eu-west-1", west.members],
      ]),
    );

    await stage({ cells: [cell("m1", A, "us-east-1")], notes: [] });

    expect(east.onboard).toHaveBeenCalledTimes(1);
    expect(west.onboard).not.toHaveBeenCalled();
  });

  it("passes the batch's abort signal on to every region", async () => {
    const east = regionMembers("us-east-1", () => invited);
    const signal = new AbortController().signal;

    await administratorSide(new Map([["us-east-1", east.members]]))(
      { cells: [cell("m1", A, "us-east-1")], notes: [] },
      signal,
    );

    expect(east.onboard.mock.calls[0]?.[1]).toBe(signal);
  });
});
