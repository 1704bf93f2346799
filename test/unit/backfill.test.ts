import { GuardDutyClient, ListDetectorsCommand, ListMembersCommand } from "@aws-sdk/client-guardduty";
import { ListAccountsCommand, OrganizationsClient } from "@aws-sdk/client-organizations";
import { SendMessageBatchCommand, SQSClient } from "@aws-sdk/client-sqs";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it } from "vitest";
import { backfill, type OrganizationAccount, planBackfill } from "#shared/backfill";
import { NOT_A_MEMBER } from "#shared/guardduty";
import { accountIds } from "../support/events.ts";

const ADMIN = "210987654321";
const AT = "2026-11-26T05:00:00.000Z";
const statuses = (entries: Record<string, string>) => new Map(Object.entries(entries));
const active = (ids: string[]): OrganizationAccount[] =>
  ids.map((accountId) => ({ accountId, active: true }));

describe("planBackfill", () => {
  it("enqueues one request per account, naming only the regions where it is not invited or enabled", () => {
    // Prepare
    const [enabledHere, invitedEverywhere, created, left] = accountIds(4, 100000000000) as [
      string,
      string,
      string,
      string,
    ];
    const members = new Map([
      [
        "us-east-1",
        statuses({
          [enabledHere]: "Enabled",
          [invitedEverywhere]: "Invited",
          [created]: "Created",
          [left]: "Removed",
        }),
      ],
      [
        "eu-west-1",
        statuses({
          [invitedEverywhere]: "Invited",
          [created]: "EmailVerificationInProgress",
          [left]: "Resigned",
        }),
      ],
    ]);

    // Act
    const plan = planBackfill({
      accounts: active([enabledHere, invitedEverywhere, created, left]),
      members,
      origin: "backfill",
      requestedAt: AT,
      correlationId: "backfill-1",
    });

    // Assess
    expect(plan.requests).toEqual([
      {
        version: 1,
        accountId: enabledHere,
        regions: ["eu-west-1"],
        attempt: 0,
        origin: "backfill",
        requestedAt: AT,
        correlationId: "backfill-1",
      },
      {
        version: 1,
        accountId: created,
        regions: ["us-east-1"],
        attempt: 0,
        origin: "backfill",
        requestedAt: AT,
        correlationId: "backfill-1",
      },
      {
        version: 1,
        accountId: left,
        regions: ["us-east-1", "eu-west-1"],
        attempt: 0,
        origin: "backfill",
        requestedAt: AT,
        correlationId: "backfill-1",
      },
    ]);
    expect(plan.drift).toEqual({
      accounts: 4,
      inactive: 0,
      regions: ["us-east-1", "eu-west-1"],
      missing: 4,
      missingByStatus: { [NOT_A_MEMBER]: 1, Created: 1, Removed: 1, Resigned: 1 },
      accountsToOnboard: 3,
    });
  });

  it("never enqueues the administrator account or an account that is not active", () => {
    const [suspended, fresh] = accountIds(2, 200000000000) as [string, string];

    const plan = planBackfill({
      accounts: [
        { accountId: ADMIN, active: true },
        { accountId: suspended, active: false },
        { accountId: fresh, active: true },
      ],
      members: new Map([["us-east-1", new Map<string, string>()]]),
      administratorAccountId: ADMIN,
      origin: "reconcile",
      requestedAt: AT,
    });

    expect(plan.requests.map((request) => [request.accountId, request.origin])).toEqual([
      [fresh, "reconcile"],
    ]);
    expect(plan.drift).toMatchObject({ accounts: 3, inactive: 1, missing: 1, accountsToOnboard: 1 });
  });

  it("finds no drift when every active account is a member everywhere", () => {
    const ids = accountIds(3, 300000000000);
    const everywhere = new Map(ids.map((id) => [id, "Enabled"]));

    const plan = planBackfill({
      accounts: active(ids),
      members: new Map([
        ["us-east-1", everywhere],
        ["eu-west-1", everywhere],
      ]),
      origin: "reconcile",
      requestedAt: AT,
    });

    expect(plan.requests).toEqual([]);
    expect(plan.drift).toMatchObject({ missing: 0, missingByStatus: {}, accountsToOnboard: 0 });
  });
});

describe("backfill", () => {
  const organizations = new OrganizationsClient({ region: "us-east-1" });
  const regional = {
    "us-east-1": new GuardDutyClient({ region: "us-east-1" }),
    "eu-west-1": new GuardDutyClient({ region: "eu-west-1" }),
    "ap-southeast-2": new GuardDutyClient({ region: "ap-southeast-2" }),
  };
  const sqs = new SQSClient({ region: "us-east-1" });
  const clients = {
    organizations,
    sqs,
    guardduty: (region: string) => regional[region as keyof typeof regional],
  };
  const orgMock = mockClient(organizations);
  const usMock = mockClient(regional["us-east-1"]);
  const euMock = mockClient(regional["eu-west-1"]);
  const apMock = mockClient(regional["ap-southeast-2"]);
  const sqsMock = mockClient(sqs);
  // 25 accounts over two ListAccounts pages; the first 10 are members in us-east-1 (over two ListMembers pages).
  const ids = accountIds(25, 400000000000);
  const [suspended, closed] = [ids[20] as string, ids[21] as string];
  const options = {
    regions: ["us-east-1", "eu-west-1", "ap-southeast-2"],
    onboardingQueueUrl: "https://sqs.us-east-1.amazonaws.com/210987654321/onboarding",
    origin: "backfill" as const,
    administratorAccountId: ADMIN,
    now: () => new Date(AT),
  };

  beforeEach(() => {
    for (const mock of [orgMock, usMock, euMock, apMock, sqsMock]) mock.reset();
    const account = (id: string) => ({
      Id: id,
      State: id === suspended ? "SUSPENDED" : id === closed ? "CLOSED" : "ACTIVE",
      Email: `owner+${id}@example.com`,
    });
    orgMock
      .on(ListAccountsCommand)
      .callsFake((input) =>
        input.NextToken
          ? { Accounts: [...ids.slice(20), ADMIN].map(account) }
          : { Accounts: ids.slice(0, 20).map(account), NextToken: "page-2" },
      );
    usMock.on(ListDetectorsCommand).resolves({ DetectorIds: ["det-us"] });
    usMock.on(ListMembersCommand).callsFake((input) => {
      const page = input.NextToken ? ids.slice(5, 10) : ids.slice(0, 5);
      return {
        Members: page.map((id) => ({ AccountId: id, RelationshipStatus: "Enabled" })),
        NextToken: input.NextToken ? undefined : "members-2",
      };
    });
    euMock.on(ListDetectorsCommand).resolves({ DetectorIds: [] });
    apMock
      .on(ListDetectorsCommand)
      .rejects(Object.assign(new Error("not authorized"), { name: "AccessDeniedException" }));
    let batch = 0;
    sqsMock.on(SendMessageBatchCommand).callsFake((input: { Entries: { Id: string }[] }) => {
      // The second batch has its first entry refused under HTTP 200.
      const refused = ++batch === 2 ? "0" : undefined;
      return {
        Successful: input.Entries.filter(({ Id }) => Id !== refused).map(({ Id }) => ({
          Id,
          MessageId: `m-${Id}`,
          MD5OfMessageBody: "",
        })),
        Failed: refused ? [{ Id: refused, Code: "InternalError", SenderFault: false }] : [],
      };
    });
  });

  it("pages through the organization and the members, and enqueues in batches of ≤ 10, checking every entry", async () => {
    const report = await backfill(clients, options);

    expect(orgMock.commandCalls(ListAccountsCommand).map((call) => call.args[0].input)).toEqual([
      { MaxResults: 20, NextToken: undefined },
      { MaxResults: 20, NextToken: "page-2" },
    ]);
    expect(usMock.commandCalls(ListMembersCommand).map((call) => call.args[0].input)).toEqual([
      { DetectorId: "det-us", OnlyAssociated: "false", MaxResults: 50, NextToken: undefined },
      { DetectorId: "det-us", OnlyAssociated: "false", MaxResults: 50, NextToken: "members-2" },
    ]);
    // 25 accounts: 10 members, 2 inactive, and the administrator is listed but never enqueued → 13.
    const missing = ids.slice(10).filter((id) => id !== suspended && id !== closed);
    expect(report.plan.requests.map((request) => request.accountId)).toEqual(missing);
    expect(report.plan.requests.every((request) => request.regions?.join() === "us-east-1")).toBe(true);
    expect(report.regionsWithoutDetector).toEqual(["eu-west-1"]);
    expect(report.regionsFailed).toEqual({
      "ap-southeast-2": expect.stringContaining("AccessDeniedException"),
    });
    const batches = sqsMock
      .commandCalls(SendMessageBatchCommand)
      .map((call) => call.args[0].input.Entries?.length);
    expect(batches).toEqual([10, 3]);
    expect(report.failed).toEqual({ [missing[10] as string]: "InternalError" });
    expect(report.enqueued).toHaveLength(12);
    expect(report.enqueued).not.toContain(missing[10]);
  });

  it("sends nothing on a dry run", async () => {
    const report = await backfill(clients, { ...options, dryRun: true });

    expect(report.plan.requests).toHaveLength(13);
    expect(report.enqueued).toEqual([]);
    expect(sqsMock.commandCalls(SendMessageBatchCommand)).toEqual([]);
  });
});
