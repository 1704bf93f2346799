import {
  BadRequestException,
  DeleteMembersCommand,
  DisassociateMembersCommand,
  GetMembersCommand,
  GuardDutyClient,
  InternalServerErrorException,
  ListDetectorsCommand,
} from "@aws-sdk/client-guardduty";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it } from "vitest";
import { RegionMembers } from "#shared/members";
import type { OnboardingRequest } from "#shared/message";
import type { Cell } from "#shared/plan";
import { offboard } from "#shared/stages/offboard";

const guardduty = mockClient(GuardDutyClient);
const members = () =>
  new RegionMembers(new GuardDutyClient({ region: "us-east-1" }), {
    mode: "organization",
    disableEmailNotification: true,
  });
/** Account ids 200000000000 + i. */
const ids = (count: number) => Array.from({ length: count }, (_, i) => String(200000000000 + i));
const AUTO_ENABLE_ALL =
  "The request is rejected because the organization's auto-enable configuration is ALL: an organization member cannot be deleted or disassociated while it applies.";
const NOT_ASSOCIATED =
  "The request is rejected because the input account ID is not associated with the current account.";

beforeEach(() => {
  guardduty.reset();
  guardduty.on(ListDetectorsCommand).resolves({ DetectorIds: ["det-1"] });
  guardduty.on(DisassociateMembersCommand).resolves({ UnprocessedAccounts: [] });
  guardduty.on(DeleteMembersCommand).resolves({ UnprocessedAccounts: [] });
});

describe("removing members (offboarding)", () => {
  it("disassociates, then deletes, at most 50 account ids a call", async () => {
    const accounts = ids(120);

    const outcomes = await members().offboard(accounts);

    const sizes = (command: typeof DisassociateMembersCommand | typeof DeleteMembersCommand) =>
      guardduty.commandCalls(command).map((call) => call.args[0].input.AccountIds?.length);
    expect(sizes(DisassociateMembersCommand)).toEqual([50, 50, 20]);
    expect(sizes(DeleteMembersCommand)).toEqual([50, 50, 20]);
    expect(new Set([...outcomes.values()].map((outcome) => outcome.outcome))).toEqual(
      new Set(["offboarded"]),
    );
    expect(outcomes.size).toBe(120);
  });

  it("reports a member the organization's auto-enable ALL keeps, without deleting it", async () => {
    const [kept, gone] = ids(2) as [string, string];
    guardduty
      .on(DisassociateMembersCommand)
      .resolves({ UnprocessedAccounts: [{ AccountId: kept, Result: AUTO_ENABLE_ALL }] });

    const outcomes = await members().offboard([kept, gone]);

    expect(outcomes.get(kept)).toMatchObject({ outcome: "skipped", reason: "auto-enable-all-keeps-member" });
    expect(outcomes.get(gone)).toMatchObject({ outcome: "offboarded" });
    expect(guardduty.commandCalls(DeleteMembersCommand)[0]?.args[0].input.AccountIds).toEqual([gone]);
  });

  it("counts an account that is no member as offboarded, and deletes one that was not associated", async () => {
    const [never, created] = ids(2) as [string, string];
    guardduty.on(DisassociateMembersCommand).resolves({
      UnprocessedAccounts: [
        { AccountId: never, Result: NOT_ASSOCIATED },
        { AccountId: created, Result: NOT_ASSOCIATED },
      ],
    });
    guardduty
      .on(DeleteMembersCommand)
      .resolves({ UnprocessedAccounts: [{ AccountId: never, Result: NOT_ASSOCIATED }] });

    const outcomes = await members().offboard([never, created]);

    expect(outcomes.get(never)).toEqual({ outcome: "offboarded", detail: "not a member in this region" });
    expect(outcomes.get(created)).toEqual({ outcome: "offboarded", detail: "disassociated and deleted" });
  });

  it("classifies other per-account answers and errors like every other call", async () => {
    const [busy, refused] = ids(2) as [string, string];
    guardduty
      .on(DisassociateMembersCommand)
      .resolves({ UnprocessedAccounts: [{ AccountId: busy, Result: "Internal error" }] });
    guardduty
      .on(DeleteMembersCommand)
      .rejects(
        new BadRequestException({ message: "The request is rejected", $metadata: { httpStatusCode: 400 } }),
      );

    const outcomes = await members().offboard([busy, refused]);

    expect(outcomes.get(busy)).toMatchObject({ outcome: "retry", reason: "guardduty-internal-error" });
    expect(outcomes.get(refused)).toMatchObject({ outcome: "dead-letter", reason: "rejected-by-guardduty" });
  });

  it("has nothing to remove where the administrator has no detector, and retries when it cannot tell", async () => {
    guardduty.on(ListDetectorsCommand).resolves({ DetectorIds: [] });
    const none = await members().offboard(ids(1));
    guardduty
      .on(ListDetectorsCommand)
      .rejects(Object.assign(new Error("socket hang up"), { name: "TimeoutError" }));
    const unknown = await members().offboard(ids(1));

    expect([...none.values()]).toEqual([
      { outcome: "offboarded", detail: "the administrator has no detector here" },
    ]);
    expect([...unknown.values()]).toMatchObject([{ outcome: "retry" }]);
    expect(guardduty.commandCalls(DisassociateMembersCommand)).toHaveLength(0);
  });
});

describe("the offboard stage", () => {
  const request = (accountId: string, fields: Partial<OnboardingRequest> = {}): OnboardingRequest => ({
    version: 1,
    accountId,
    attempt: 0,
    origin: "event",
    ...fields,
  });
  const cell = (accountId: string, region: string, fields: Partial<OnboardingRequest> = {}): Cell => ({
    messageId: accountId,
    request: request(accountId, fields),
    region,
  });
  const [departed, joined] = ids(2) as [string, string];
  const plan = {
    cells: [
      cell(departed, "us-east-1", { action: "offboard" }),
      cell(departed, "eu-west-1", { action: "offboard" }),
      cell(joined, "us-east-1"),
    ],
    notes: [],
  };
  const regions = () => new Map([["us-east-1", members()]]);

  it("decides the offboard cells of every managed region and leaves the others pending", async () => {
    const decided = await offboard(regions(), true)(plan);

    expect(decided.cells.map((each) => each.outcome?.outcome)).toEqual(["offboarded", "retry", undefined]);
    expect(decided.cells[1]?.outcome?.reason).toBe("service-unavailable");
  });

  it("skips them as offboarding-disabled when the stage parameter is off, calling nothing", async () => {
    const decided = await offboard(regions(), false)(plan);

    expect(decided.cells.map((each) => each.outcome?.reason)).toEqual([
      "offboarding-disabled",
      "offboarding-disabled",
      undefined,
    ]);
    expect(guardduty.calls()).toHaveLength(0);
  });

  it("passes a plan without offboard requests through untouched", async () => {
    const onboarding = { cells: [cell(joined, "us-east-1")], notes: [] };

    expect(await offboard(regions(), true)(onboarding)).toBe(onboarding);
  });
});

describe("deleting members whose e-mail failed verification (the recreate repair)", () => {
  it("retries every account at the recreate step when their status cannot be read, deleting nothing", async () => {
    // Prepare
    const accounts = ids(2);
    guardduty
      .on(GetMembersCommand)
      .rejects(new InternalServerErrorException({ message: "boom", $metadata: { httpStatusCode: 500 } }));

    // Act
    const outcomes = await members().deleteUnverified(accounts);

    // Assess
    expect([...outcomes.values()]).toEqual(
      accounts.map(() => expect.objectContaining({ outcome: "retry", step: "recreate" })),
    );
    expect(outcomes.get(accounts[0] as string)?.detail).toMatch(/^GetMembers: /);
    expect(guardduty.commandCalls(DeleteMembersCommand)).toHaveLength(0);
  });

  it("lets onboarding go on for a member deleted meanwhile, and leaves the detector's absence to onboarding", async () => {
    // Prepare
    const [gone] = ids(1) as [string];
    guardduty.on(GetMembersCommand).resolves({
      Members: [{ AccountId: gone, RelationshipStatus: "EmailVerificationFailed" } as never],
      UnprocessedAccounts: [],
    });
    guardduty
      .on(DeleteMembersCommand)
      .resolves({ UnprocessedAccounts: [{ AccountId: gone, Result: NOT_ASSOCIATED }] });

    // Act
    const deletedMeanwhile = await members().deleteUnverified([gone]);
    guardduty.on(ListDetectorsCommand).resolves({ DetectorIds: [] });
    const noDetector = await members().deleteUnverified([gone]);
    guardduty.on(ListDetectorsCommand).rejects(new Error("socket hang up"));
    const unknownDetector = await members().deleteUnverified([gone]);

    // Assess
    expect(deletedMeanwhile.size).toBe(0);
    expect(noDetector.size).toBe(0);
    expect(unknownDetector.size).toBe(0);
    expect(guardduty.commandCalls(DeleteMembersCommand)).toHaveLength(1);
  });
});
