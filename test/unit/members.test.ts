import {
  BadRequestException,
  CreateMembersCommand,
  DescribeOrganizationConfigurationCommand,
  GetMembersCommand,
  GuardDutyClient,
  InternalServerErrorException,
  InviteMembersCommand,
  ListDetectorsCommand,
} from "@aws-sdk/client-guardduty";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { DELEGATION_CHECK_TTL_MS, RegionMembers } from "#shared/members";
import { accountIds } from "../support/events.ts";

const guardduty = mockClient(GuardDutyClient);
const client = new GuardDutyClient({
  region: "eu-west-1",
  credentials: { accessKeyId: "a", secretAccessKey: "b" },
});
const members = (mode: "invitation" | "organization" = "invitation") =>
  new RegionMembers(client, { mode, disableEmailNotification: true, invitationMessage: "hi" });
const accounts = (ids: string[]) =>
  ids.map((accountId) => ({ accountId, email: `owner+${accountId}@example.com` }));
const badRequest = () =>
  new BadRequestException({
    message: "The request is rejected because an input parameter is invalid.",
    $metadata: {},
  });

afterEach(() => {
  vi.useRealTimers();
});

beforeEach(() => {
  guardduty.reset();
  guardduty.on(ListDetectorsCommand).resolves({ DetectorIds: ["det-1"] });
  guardduty.on(CreateMembersCommand).resolves({ UnprocessedAccounts: [] });
  guardduty.on(InviteMembersCommand).resolves({ UnprocessedAccounts: [] });
  guardduty.on(DescribeOrganizationConfigurationCommand).resolves({ MemberAccountLimitReached: false });
});

describe("RegionMembers.onboard", () => {
  it("invites 120 accounts with exactly 3 CreateMembers and 3 InviteMembers calls of ≤ 50 ids", async () => {
    const ids = accountIds(120);

    const outcomes = await members().onboard(accounts(ids));

    const creates = guardduty.commandCalls(CreateMembersCommand).map((call) => call.args[0].input);
    const invites = guardduty.commandCalls(InviteMembersCommand).map((call) => call.args[0].input);
    expect(creates.map((input) => input.AccountDetails?.length)).toEqual([50, 50, 20]);
    expect(invites.map((input) => input.AccountIds?.length)).toEqual([50, 50, 20]);
    expect(invites[0]).toMatchObject({ DetectorId: "det-1", DisableEmailNotification: true, Message: "hi" });
    expect([...outcomes.values()].every((outcome) => outcome.outcome === "invited")).toBe(true);
    expect(outcomes.size).toBe(120);
  });

  it("isolates the one account a 400 is about and still invites the other 119", async () => {
    const ids = accountIds(120);
    const bad = ids[77] as string;
    guardduty
      .on(CreateMembersCommand)
      .callsFake((input: { AccountDetails: { AccountId: string }[] }) =>
        input.AccountDetails.some((detail) => detail.AccountId === bad)
          ? Promise.reject(badRequest())
          : Promise.resolve({ UnprocessedAccounts: [] }),
      );

    const outcomes = await members().onboard(accounts(ids));

    expect(outcomes.get(bad)).toMatchObject({ outcome: "dead-letter", reason: "rejected-by-guardduty" });
    const invited = guardduty
      .commandCalls(InviteMembersCommand)
      .flatMap((call) => call.args[0].input.AccountIds ?? []);
    expect(invited).toHaveLength(119);
    expect(invited).not.toContain(bad);
    // Bisection: a handful of extra calls, not one per account.
    expect(guardduty.commandCalls(CreateMembersCommand).length).toBeLessThanOrEqual(3 + 2 * 6);
  });

  it("classifies unprocessed accounts per account and invites only the accepted ones", async () => {
    const [ok, other, weird] = accountIds(3);
    guardduty.on(CreateMembersCommand).resolves({
      UnprocessedAccounts: [
        {
          AccountId: other,
          Result:
            "The request is rejected because the input account ID is already a member of another master account.",
        },
        { AccountId: weird, Result: "Internal error" },
      ],
    });

    const outcomes = await members().onboard(accounts([ok, other, weird] as string[]));

    expect(Object.fromEntries(outcomes)).toEqual({
      [ok as string]: { outcome: "invited", memberStatus: "Invited" },
      [other as string]: expect.objectContaining({
        outcome: "dead-letter",
        reason: "already-member-of-another-administrator",
      }),
      [weird as string]: { outcome: "retry", reason: "guardduty-internal-error", detail: "Internal error" },
    });
    expect(guardduty.commandCalls(InviteMembersCommand)[0]?.args[0].input.AccountIds).toEqual([ok]);
  });

  it("looks up an account a retried InviteMembers finds already invited, so that its member side still runs", async () => {
    const [invited, accepted, unreachable] = accountIds(3) as [string, string, string];
    const alreadyInvited =
      "The request is rejected because the current account has already invited or is already the GuardDuty master of the given member account ID.";
    guardduty.on(InviteMembersCommand).resolves({
      UnprocessedAccounts: [invited, accepted].map((AccountId) => ({ AccountId, Result: alreadyInvited })),
    });
    guardduty.on(GetMembersCommand).resolves({
      Members: [
        { AccountId: invited, RelationshipStatus: "Invited", MasterId: "1", Email: "x", UpdatedAt: "" },
        { AccountId: accepted, RelationshipStatus: "Enabled", MasterId: "1", Email: "x", UpdatedAt: "" },
      ],
    });

    const outcomes = await members().onboard(accounts([invited, accepted]));

    expect(outcomes.get(invited)).toEqual({
      outcome: "already",
      reason: "already-member",
      memberStatus: "Invited",
    });
    expect(outcomes.get(accepted)).toEqual({
      outcome: "already",
      reason: "already-member",
      memberStatus: "Enabled",
    });

    guardduty
      .on(InviteMembersCommand)
      .resolves({ UnprocessedAccounts: [{ AccountId: unreachable, Result: alreadyInvited }] });
    guardduty
      .on(GetMembersCommand)
      .rejects(new InternalServerErrorException({ message: "down", $metadata: {} }));
    expect((await members().onboard(accounts([unreachable]))).get(unreachable)).toMatchObject({
      outcome: "retry",
    });
  });

  it("does not invite again an account that is already a member and already invited", async () => {
    const [invitedBefore, createdOnly] = accountIds(2) as [string, string];
    const already =
      "The request is rejected because the given account ID is already a member of the current account.";
    guardduty.on(CreateMembersCommand).resolves({
      UnprocessedAccounts: [
        { AccountId: invitedBefore, Result: already },
        { AccountId: createdOnly, Result: already },
      ],
    });
    guardduty.on(GetMembersCommand).resolves({
      Members: [
        { AccountId: invitedBefore, RelationshipStatus: "Invited", MasterId: "1", Email: "x", UpdatedAt: "" },
        { AccountId: createdOnly, RelationshipStatus: "Created", MasterId: "1", Email: "x", UpdatedAt: "" },
      ],
    });

    const outcomes = await members().onboard(accounts([invitedBefore, createdOnly]));

    expect(outcomes.get(invitedBefore)).toEqual({
      outcome: "already",
      reason: "already-member",
      memberStatus: "Invited",
    });
    expect(outcomes.get(createdOnly)).toEqual({ outcome: "invited", memberStatus: "Invited" });
    expect(guardduty.commandCalls(InviteMembersCommand)[0]?.args[0].input.AccountIds).toEqual([createdOnly]);
  });

  it("enables members with CreateMembers alone in organization mode", async () => {
    const ids = accountIds(2);

    const outcomes = await members("organization").onboard(accounts(ids));

    expect([...outcomes.values()]).toEqual([
      { outcome: "enabled", memberStatus: "Enabled" },
      { outcome: "enabled", memberStatus: "Enabled" },
    ]);
    expect(guardduty.commandCalls(InviteMembersCommand)).toHaveLength(0);
  });

  it("costs one CreateMembers per 50 accounts in organization mode, and checks the delegation once per region", async () => {
    const region = members("organization");

    await region.onboard(accounts(accountIds(120)));
    await region.onboard(accounts(accountIds(3, 300000000000)));

    expect(
      guardduty.commandCalls(CreateMembersCommand).map((c) => c.args[0].input.AccountDetails?.length),
    ).toEqual([50, 50, 20, 3]);
    expect(guardduty.commandCalls(DescribeOrganizationConfigurationCommand)).toHaveLength(1);
    expect(guardduty.commandCalls(DescribeOrganizationConfigurationCommand)[0]?.args[0].input).toEqual({
      DetectorId: "det-1",
    });
  });

  it("dead-letters a region where the account is not the delegated administrator, without CreateMembers, and asks again next time", async () => {
    guardduty.on(DescribeOrganizationConfigurationCommand).rejects(
      new BadRequestException({
        message: "The request failed because you do not have required AWS Organization master permission.",
        $metadata: { httpStatusCode: 400 },
      }),
    );
    const region = members("organization");

    const first = await region.onboard(accounts(accountIds(2)));
    guardduty.on(DescribeOrganizationConfigurationCommand).resolves({ MemberAccountLimitReached: false });
    const second = await region.onboard(accounts(accountIds(2)));

    expect([...first.values()].map((o) => [o.outcome, o.reason])).toEqual([
      ["dead-letter", "not-delegated-administrator"],
      ["dead-letter", "not-delegated-administrator"],
    ]);
    expect([...second.values()].map((o) => o.outcome)).toEqual(["enabled", "enabled"]);
    expect(guardduty.commandCalls(CreateMembersCommand)).toHaveLength(1);
  });

  it("asks again whether it is the delegated administrator once the passed check is older than its TTL", async () => {
    vi.useFakeTimers({ now: 0, toFake: ["Date"] });
    const region = members("organization");

    await region.onboard(accounts(accountIds(1)));
    vi.setSystemTime(DELEGATION_CHECK_TTL_MS - 1);
    await region.onboard(accounts(accountIds(1, 300000000000)));
    vi.setSystemTime(DELEGATION_CHECK_TTL_MS);
    await region.onboard(accounts(accountIds(1, 400000000000)));

    expect(guardduty.commandCalls(DescribeOrganizationConfigurationCommand)).toHaveLength(2);
  });

  it("dead-letters as member-limit-reached when the organization says the member limit is reached", async () => {
    guardduty.on(DescribeOrganizationConfigurationCommand).resolves({ MemberAccountLimitReached: true });

    const outcomes = await members("organization").onboard(accounts(accountIds(1)));

    expect([...outcomes.values()].map((o) => o.reason)).toEqual(["member-limit-reached"]);
    expect(guardduty.commandCalls(CreateMembersCommand)).toHaveLength(0);
  });

  it("retries a region whose delegation check met a server error", async () => {
    guardduty
      .on(DescribeOrganizationConfigurationCommand)
      .rejects(new InternalServerErrorException({ message: "boom", $metadata: { httpStatusCode: 500 } }));

    const outcomes = await members("organization").onboard(accounts(accountIds(1)));

    expect([...outcomes.values()].map((o) => [o.outcome, o.reason])).toEqual([
      ["retry", "service-unavailable"],
    ]);
  });

  it("dead-letters every account of a region without a detector, and looks again next time", async () => {
    guardduty.on(ListDetectorsCommand).resolves({ DetectorIds: [] });
    const region = members();

    const first = await region.onboard(accounts(accountIds(2)));
    await region.onboard(accounts(accountIds(1)));

    expect([...first.values()].map((outcome) => outcome.reason)).toEqual([
      "guardduty-not-enabled-in-region",
      "guardduty-not-enabled-in-region",
    ]);
    expect(guardduty.commandCalls(ListDetectorsCommand)).toHaveLength(2);
    expect(guardduty.commandCalls(CreateMembersCommand)).toHaveLength(0);
  });

  it("discovers the detector once per region and caches it", async () => {
    const region = members();

    await region.onboard(accounts(accountIds(1)));
    await region.onboard(accounts(accountIds(1, 200000000000)));

    expect(guardduty.commandCalls(ListDetectorsCommand)).toHaveLength(1);
  });

  it("retries every account of a chunk that GuardDuty failed with a 5xx", async () => {
    guardduty
      .on(InviteMembersCommand)
      .rejects(new InternalServerErrorException({ message: "boom", $metadata: { httpStatusCode: 500 } }));

    const outcomes = await members().onboard(accounts(accountIds(3)));

    expect([...outcomes.values()].map((outcome) => outcome.reason)).toEqual([
      "service-unavailable",
      "service-unavailable",
      "service-unavailable",
    ]);
    expect(guardduty.commandCalls(InviteMembersCommand)).toHaveLength(1);
  });

  it("never puts an e-mail address into an outcome detail", async () => {
    const [id] = accountIds(1) as [string];
    guardduty.on(CreateMembersCommand).resolves({
      UnprocessedAccounts: [{ AccountId: id, Result: `The email owner+${id}@example.com is invalid` }],
    });

    const outcomes = await members().onboard(accounts([id]));

    expect(outcomes.get(id)?.detail).toBe("The email <email> is invalid");
  });
});
