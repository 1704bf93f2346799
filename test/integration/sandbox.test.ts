/**
 * The GuardDuty + Organizations sandbox, exercised only through real clients over HTTP: the AWS SDK v3
 * clients with an endpoint override, and the AWS CLI. Each test uses its own region (GuardDuty state is
 * regional) so tests sharing the sandbox stay independent.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import {
  AcceptAdministratorInvitationCommand,
  type AccountDetail,
  BadRequestException,
  CreateDetectorCommand,
  CreateMembersCommand,
  DeleteMembersCommand,
  DescribeOrganizationConfigurationCommand,
  DisassociateMembersCommand,
  EnableOrganizationAdminAccountCommand,
  GetMembersCommand,
  GuardDutyClient,
  InviteMembersCommand,
  ListDetectorsCommand,
  ListInvitationsCommand,
  ListMembersCommand,
} from "@aws-sdk/client-guardduty";
import {
  AccountNotFoundException,
  DescribeAccountCommand,
  DescribeOrganizationCommand,
  ListAccountsCommand,
  ListDelegatedAdministratorsCommand,
  OrganizationsClient,
} from "@aws-sdk/client-organizations";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createClients } from "#shared/clients";
import { GuardDutyText } from "../../sandbox/guardduty-state.ts";
import { seedOrganization } from "../../sandbox/scenario.ts";
import { type Sandbox, type SandboxOptions, startSandbox } from "../../sandbox/server.ts";

const SEED = 7;
const ACCOUNT_COUNT = 45;
const FOREIGN_REGION = "eu-central-1";
const NO_DETECTOR_REGION = "ap-south-1";
const workloads = seedOrganization({ count: ACCOUNT_COUNT, seed: SEED });
const account = (index: number): string => {
  const found = workloads[index];
  if (found === undefined) {
    throw new Error(`no workload account #${index}`);
  }
  return found.id;
};
const FOREIGN_MEMBER = account(0);

let sandbox: Sandbox;
const extraSandboxes: Sandbox[] = [];
const clients: { destroy(): void }[] = [];

function guardDuty(
  target: Sandbox,
  region: string,
  options: { accessKeyId?: string; maxAttempts?: number } = {},
) {
  const client = new GuardDutyClient({
    region,
    endpoint: target.url,
    credentials: { accessKeyId: options.accessKeyId ?? "AKIDADMINISTRATOR", secretAccessKey: "sandbox" },
    maxAttempts: options.maxAttempts ?? 1,
  });
  clients.push(client);
  return client;
}

function organizations(target: Sandbox, maxAttempts = 1) {
  const client = new OrganizationsClient({
    region: "us-east-1",
    endpoint: target.url,
    credentials: { accessKeyId: "AKIDADMINISTRATOR", secretAccessKey: "sandbox" },
    maxAttempts,
  });
  clients.push(client);
  return client;
}

async function started(options: SandboxOptions): Promise<Sandbox> {
  const extra = await startSandbox(options);
  extraSandboxes.push(extra);
  return extra;
}

/** The error a call rejects with, caught at once so no rejection goes unhandled; throws if it resolves. */
async function rejection(call: Promise<unknown>): Promise<unknown> {
  try {
    await call;
  } catch (error) {
    return error;
  }
  throw new Error("expected the call to be rejected");
}

async function detectorOf(client: GuardDutyClient): Promise<string> {
  const { DetectorIds } = await client.send(new ListDetectorsCommand({}));
  const detectorId = DetectorIds?.[0];
  if (detectorId === undefined) {
    throw new Error("no detector");
  }
  return detectorId;
}

/** Creates and invites accounts as the administrator; returns the administrator's detector id. */
async function createAndInvite(client: GuardDutyClient, ids: readonly string[]): Promise<string> {
  const DetectorId = await detectorOf(client);
  await client.send(
    new CreateMembersCommand({
      DetectorId,
      AccountDetails: ids.map((id) => ({ AccountId: id, Email: `acct-${id}@example.com` })),
    }),
  );
  await client.send(new InviteMembersCommand({ DetectorId, AccountIds: [...ids] }));
  return DetectorId;
}

/** The member account accepts its pending invitation in the client's region. */
async function acceptAsMember(region: string, memberId: string): Promise<void> {
  const accessKeyId = `AKIDMEMBER${memberId}`;
  sandbox.registerCredentials(accessKeyId, memberId);
  const member = guardDuty(sandbox, region, { accessKeyId });
  const { DetectorId } = await member.send(new CreateDetectorCommand({ Enable: true }));
  const { Invitations } = await member.send(new ListInvitationsCommand({}));
  await member.send(
    new AcceptAdministratorInvitationCommand({
      DetectorId,
      AdministratorId: Invitations?.[0]?.AccountId,
      InvitationId: Invitations?.[0]?.InvitationId,
    }),
  );
}

beforeAll(async () => {
  sandbox = await startSandbox({
    seed: SEED,
    accountCount: ACCOUNT_COUNT,
    regionsWithoutDetector: [NO_DETECTOR_REGION],
    membersOfOtherAdministrator: [{ accountId: FOREIGN_MEMBER, regions: [FOREIGN_REGION] }],
  });
});

afterAll(async () => {
  for (const client of clients) {
    client.destroy();
  }
  await Promise.all([sandbox, ...extraSandboxes].map((s) => s.close()));
});

describe("GuardDuty administrator side", () => {
  it("lists the administrator's detector in each region, and none where GuardDuty is not enabled", async () => {
    // Prepare
    const regions = ["us-west-2", "eu-west-1", NO_DETECTOR_REGION];

    // Act
    const answers = await Promise.all(
      regions.map((region) => guardDuty(sandbox, region).send(new ListDetectorsCommand({}))),
    );

    // Assess
    const [usWest2, euWest1, apSouth1] = answers.map((answer) => answer.DetectorIds);
    expect(usWest2).toHaveLength(1);
    expect(usWest2?.[0]).toMatch(/^[0-9a-f]{32}$/);
    expect(euWest1).toHaveLength(1);
    expect(euWest1?.[0]).not.toBe(usWest2?.[0]);
    expect(apSouth1).toEqual([]);
    expect(sandbox.counters.calls("ListDetectors", "us-west-2")).toBeGreaterThanOrEqual(1);
  });

  it("makes created and invited accounts Invited and counts one invitation each", async () => {
    // Prepare
    const region = "us-east-2";
    const client = guardDuty(sandbox, region);
    const ids = [account(1), account(2)];

    // Act
    await createAndInvite(client, ids);

    // Assess
    expect(ids.map((id) => sandbox.status(id, region))).toEqual(["Invited", "Invited"]);
    expect(sandbox.counters.invitations(account(1), region)).toBe(1);
    expect(sandbox.counters.calls("CreateMembers", region)).toBe(1);
    expect(sandbox.counters.calls("InviteMembers", region)).toBe(1);
    expect(sandbox.memberStatuses()[account(2)]).toEqual({ [region]: "Invited" });
  });

  it("answers 'already invited' for an Invited member and sends no second invitation", async () => {
    // Prepare
    const region = "ca-central-1";
    const client = guardDuty(sandbox, region);
    const DetectorId = await createAndInvite(client, [account(3)]);

    // Act
    const { UnprocessedAccounts } = await client.send(
      new InviteMembersCommand({ DetectorId, AccountIds: [account(3)] }),
    );

    // Assess
    expect(UnprocessedAccounts).toEqual([
      {
        AccountId: account(3),
        Result:
          "The request is rejected because the current account has already invited or is already the GuardDuty master of the given member account ID.",
      },
    ]);
    expect(sandbox.counters.invitations(account(3), region)).toBe(1);
  });

  it("rejects 51 account ids with BadRequestException and HTTP 400, as the SDK surfaces it", async () => {
    // Prepare
    const client = guardDuty(sandbox, "us-west-1");
    const DetectorId = await detectorOf(client);
    const ids = workloads.slice(0, 51).map((a) => a.id);
    while (ids.length < 51) {
      ids.push(`5000000000${String(ids.length).padStart(2, "0")}`);
    }

    // Act
    const creating = rejection(
      client.send(
        new CreateMembersCommand({
          DetectorId,
          AccountDetails: ids.map((id) => ({ AccountId: id, Email: `acct-${id}@example.com` })),
        }),
      ),
    );
    const inviting = rejection(client.send(new InviteMembersCommand({ DetectorId, AccountIds: ids })));

    // Assess
    expect(await creating).toBeInstanceOf(BadRequestException);
    expect(await creating).toMatchObject({
      name: "BadRequestException",
      message: expect.stringContaining("between 1 and 50"),
      $fault: "client",
      $metadata: { httpStatusCode: 400 },
    });
    expect(await inviting).toMatchObject({
      name: "BadRequestException",
      $metadata: { httpStatusCode: 400 },
    });
    expect(sandbox.memberStatuses()).not.toHaveProperty(ids[0] ?? "");
  });

  it("rejects an account detail without e-mail with BadRequestException 400", async () => {
    // Prepare
    const client = guardDuty(sandbox, "us-west-1");
    const DetectorId = await detectorOf(client);

    // Act
    const withoutEmail = { AccountId: account(4) } as AccountDetail; // the SDK types require Email
    const creating = rejection(
      client.send(new CreateMembersCommand({ DetectorId, AccountDetails: [withoutEmail] })),
    );

    // Assess
    expect(await creating).toMatchObject({
      name: "BadRequestException",
      $metadata: { httpStatusCode: 400 },
    });
    expect(sandbox.status(account(4), "us-west-1")).toBeUndefined();
  });

  it("rejects a detector id the caller does not own with GuardDuty's text", async () => {
    // Prepare
    const client = guardDuty(sandbox, "us-west-1");

    // Act
    const listing = rejection(
      client.send(new ListMembersCommand({ DetectorId: "0123456789abcdef0123456789abcdef" })),
    );

    // Assess
    expect(await listing).toMatchObject({
      name: "BadRequestException",
      message: GuardDutyText.detectorNotOwned,
      $metadata: { httpStatusCode: 400 },
    });
  });

  it("answers per-account rejections in unprocessedAccounts with HTTP 200", async () => {
    // Prepare
    const region = FOREIGN_REGION;
    const client = guardDuty(sandbox, region);
    const DetectorId = await createAndInvite(client, [account(5)]);
    const details = [FOREIGN_MEMBER, account(5), sandbox.administratorAccountId].map((id) => ({
      AccountId: id,
      Email: `acct-${id}@example.com`,
    }));

    // Act
    const created = await client.send(new CreateMembersCommand({ DetectorId, AccountDetails: details }));
    const invited = await client.send(new InviteMembersCommand({ DetectorId, AccountIds: [account(6)] }));

    // Assess
    expect(created.$metadata.httpStatusCode).toBe(200);
    expect(created.UnprocessedAccounts).toEqual([
      { AccountId: FOREIGN_MEMBER, Result: GuardDutyText.memberOfAnotherAdministrator },
      { AccountId: account(5), Result: GuardDutyText.alreadyMember },
      { AccountId: sandbox.administratorAccountId, Result: GuardDutyText.cannotInviteItself },
    ]);
    expect(invited.UnprocessedAccounts).toEqual([
      { AccountId: account(6), Result: GuardDutyText.notAssociated },
    ]);
    expect(sandbox.status(account(5), region)).toBe("Invited");
    expect(sandbox.status(FOREIGN_MEMBER, region)).toBeUndefined();
  });

  it("lists only Enabled members by default and every member with onlyAssociated 'false'", async () => {
    // Prepare
    const region = "sa-east-1";
    const client = guardDuty(sandbox, region);
    const DetectorId = await createAndInvite(client, [account(7), account(8)]);
    await acceptAsMember(region, account(7));

    // Act
    const associated = await client.send(new ListMembersCommand({ DetectorId }));
    const all = await client.send(new ListMembersCommand({ DetectorId, OnlyAssociated: "false" }));

    // Assess
    expect(associated.Members?.map((m) => [m.AccountId, m.RelationshipStatus])).toEqual([
      [account(7), "Enabled"],
    ]);
    expect(all.Members?.map((m) => m.AccountId).sort()).toEqual([account(7), account(8)].sort());
    expect(all.Members?.find((m) => m.AccountId === account(8))).toMatchObject({
      RelationshipStatus: "Invited",
      AdministratorId: sandbox.administratorAccountId,
      Email: `acct-${account(8)}@example.com`,
    });
  });

  it("pages ListMembers with maxResults and nextToken", async () => {
    // Prepare
    const region = "eu-west-3";
    const client = guardDuty(sandbox, region);
    const DetectorId = await detectorOf(client);
    const ids = workloads.slice(10, 15).map((a) => a.id);
    await client.send(
      new CreateMembersCommand({
        DetectorId,
        AccountDetails: ids.map((id) => ({ AccountId: id, Email: "e@x.io" })),
      }),
    );

    // Act
    const first = await client.send(
      new ListMembersCommand({ DetectorId, OnlyAssociated: "false", MaxResults: 3 }),
    );
    const second = await client.send(
      new ListMembersCommand({
        DetectorId,
        OnlyAssociated: "false",
        MaxResults: 3,
        NextToken: first.NextToken,
      }),
    );

    // Assess
    expect(first.Members).toHaveLength(3);
    expect(second.Members).toHaveLength(2);
    expect(second.NextToken).toBeUndefined();
    expect([...(first.Members ?? []), ...(second.Members ?? [])].map((m) => m.RelationshipStatus)).toEqual(
      Array(5).fill("Created"),
    );
  });
});

describe("GuardDuty member side", () => {
  it("shows the invitation to the member, and accepting it makes the administrator's record Enabled", async () => {
    // Prepare
    const region = "eu-north-1";
    const memberId = account(9);
    const administrator = guardDuty(sandbox, region);
    const DetectorId = await createAndInvite(administrator, [memberId]);
    sandbox.registerCredentials("AKIDMEMBER9", memberId);
    const member = guardDuty(sandbox, region, { accessKeyId: "AKIDMEMBER9" });

    // Act
    const withoutDetector = rejection(
      member.send(
        new AcceptAdministratorInvitationCommand({
          DetectorId: "x",
          AdministratorId: "y",
          InvitationId: "z",
        }),
      ),
    );
    const { Invitations } = await member.send(new ListInvitationsCommand({}));
    const created = await member.send(new CreateDetectorCommand({ Enable: true }));
    await member.send(
      new AcceptAdministratorInvitationCommand({
        DetectorId: created.DetectorId,
        AdministratorId: Invitations?.[0]?.AccountId,
        InvitationId: Invitations?.[0]?.InvitationId,
      }),
    );

    // Assess
    expect(await withoutDetector).toMatchObject({ message: GuardDutyText.detectorNotOwned });
    expect(Invitations).toEqual([
      {
        AccountId: sandbox.administratorAccountId,
        InvitationId: expect.stringMatching(/^[0-9a-f]{32}$/),
        RelationshipStatus: "Invited",
        InvitedAt: expect.any(String),
      },
    ]);
    expect(sandbox.status(memberId, region)).toBe("Enabled");
    const { Members } = await administrator.send(
      new GetMembersCommand({ DetectorId, AccountIds: [memberId] }),
    );
    expect(Members?.[0]).toMatchObject({ RelationshipStatus: "Enabled", DetectorId: created.DetectorId });
    const after = await member.send(new ListInvitationsCommand({}));
    expect(after.Invitations).toEqual([]);
  });
});

describe("Organizations", () => {
  it("lists every account in pages of at most 20 linked by NextToken", async () => {
    // Prepare
    const client = organizations(sandbox);
    const pageSizes: number[] = [];
    const ids: string[] = [];

    // Act
    let NextToken: string | undefined;
    do {
      const page = await client.send(new ListAccountsCommand({ NextToken }));
      pageSizes.push(page.Accounts?.length ?? 0);
      ids.push(...(page.Accounts ?? []).map((a) => a.Id ?? ""));
      NextToken = page.NextToken;
    } while (NextToken !== undefined);
    const small = await client.send(new ListAccountsCommand({ MaxResults: 7 }));

    // Assess
    expect(pageSizes).toEqual([20, 20, 7]);
    expect(new Set(ids).size).toBe(ACCOUNT_COUNT + 2);
    expect(ids).toEqual(
      expect.arrayContaining([sandbox.administratorAccountId, ...workloads.map((a) => a.id)]),
    );
    expect(small.Accounts).toHaveLength(7);
  });

  it("describes an account with the model's fields, JoinedTimestamp as a Date", async () => {
    // Prepare
    const client = organizations(sandbox);

    // Act
    const { Account } = await client.send(new DescribeAccountCommand({ AccountId: account(0) }));
    const { Organization } = await client.send(new DescribeOrganizationCommand({}));

    // Assess
    expect(Account).toMatchObject({
      Id: account(0),
      Email: `acct-${account(0)}@example.com`,
      Status: "ACTIVE",
      State: "ACTIVE",
      JoinedMethod: "CREATED",
      Arn: `arn:aws:organizations::${sandbox.managementAccountId}:account/${sandbox.organizationId}/${account(0)}`,
    });
    expect(Account?.JoinedTimestamp).toBeInstanceOf(Date);
    expect(Organization?.MasterAccountId).toBe(sandbox.managementAccountId);
  });

  it("answers AccountNotFoundException for an unknown account", async () => {
    // Prepare
    const client = organizations(sandbox);

    // Act
    const describing = rejection(client.send(new DescribeAccountCommand({ AccountId: "123456789012" })));

    // Assess
    expect(await describing).toBeInstanceOf(AccountNotFoundException);
    expect(await describing).toMatchObject({ $metadata: { httpStatusCode: 400 } });
  });

  it("sees accounts added at runtime, generated deterministically from the seed", async () => {
    // Prepare
    const first = await started({ seed: SEED, accountCount: 5 });
    const twin = await started({ seed: SEED, accountCount: 5 });

    // Act
    const [added] = first.addAccounts({ count: 1 });
    const [twinAdded] = twin.addAccounts({ count: 1 });
    const { Account } = await organizations(first).send(new DescribeAccountCommand({ AccountId: added?.id }));

    // Assess
    expect(twin.accounts().map((a) => a.id)).toEqual(first.accounts().map((a) => a.id));
    expect(first.accounts().slice(2, 7)).toEqual(seedOrganization({ count: 5, seed: SEED }));
    expect(twinAdded?.id).toBe(added?.id);
    expect(Account?.Id).toMatch(/^\d{12}$/);
  });
});

describe("faults", () => {
  it("throttles GuardDuty with 429 TooManyRequestsException, which the SDK retries as throttling", async () => {
    // Prepare
    const throttled = await started({
      seed: SEED,
      clock: () => 0,
      faults: { guardDutyThrottle: { ratePerSecond: 1, burst: 2, operations: ["ListDetectors"] } },
    });
    const client = guardDuty(throttled, "us-east-1");
    const retrying = guardDuty(throttled, "us-east-1", { maxAttempts: 2 });
    await client.send(new ListDetectorsCommand({}));
    await client.send(new ListDetectorsCommand({}));

    // Act
    const once = rejection(client.send(new ListDetectorsCommand({})));
    const twice = rejection(retrying.send(new ListDetectorsCommand({})));
    const elsewhere = await guardDuty(throttled, "eu-west-1").send(new ListDetectorsCommand({}));

    // Assess
    expect(await once).toMatchObject({
      name: "TooManyRequestsException",
      $metadata: { httpStatusCode: 429, attempts: 1 },
    });
    expect(await twice).toMatchObject({ $metadata: { httpStatusCode: 429, attempts: 2 } });
    expect(elsewhere.DetectorIds).toHaveLength(1);
    expect(throttled.counters.throttled("ListDetectors", "us-east-1")).toBe(3);
  });

  it("throttles Organizations with TooManyRequestsException on HTTP 400", async () => {
    // Prepare
    const throttled = await started({
      seed: SEED,
      clock: () => 0,
      faults: { organizationsThrottle: { ratePerSecond: 1, burst: 1 } },
    });
    const client = organizations(throttled);
    await client.send(new ListAccountsCommand({}));

    // Act
    const describing = rejection(
      client.send(new DescribeAccountCommand({ AccountId: throttled.administratorAccountId })),
    );

    // Assess
    expect(await describing).toMatchObject({
      name: "TooManyRequestsException",
      $metadata: { httpStatusCode: 400 },
    });
  });

  it("injects 5xx InternalServerErrorException and 'Internal error' unprocessed results, and counts them", async () => {
    // Prepare
    const faulty = await started({
      seed: SEED,
      faults: { serverErrorRate: 1, serverErrorOperations: ["ListMembers"], internalErrorRate: 1 },
    });
    const client = guardDuty(faulty, "us-east-1");
    const DetectorId = await detectorOf(client);

    // Act
    const listing = rejection(client.send(new ListMembersCommand({ DetectorId })));
    const created = await client.send(
      new CreateMembersCommand({
        DetectorId,
        AccountDetails: [{ AccountId: "123456789012", Email: "a@b.io" }],
      }),
    );

    // Assess
    expect(await listing).toMatchObject({
      name: "InternalServerErrorException",
      $fault: "server",
      $metadata: { httpStatusCode: 500 },
    });
    expect(created.UnprocessedAccounts).toEqual([{ AccountId: "123456789012", Result: "Internal error" }]);
    expect(faulty.counters.serverErrors("ListMembers")).toBe(1);
    expect(faulty.counters.internalErrors("CreateMembers", "us-east-1")).toBe(1);
  });
});

describe("scenario modes", () => {
  it("enables an organization account directly on CreateMembers in organization mode", async () => {
    // Prepare
    const orgMode = await started({ seed: SEED, accountCount: 3, mode: "organization" });
    const client = guardDuty(orgMode, "us-east-1");
    const DetectorId = await detectorOf(client);
    const member = orgMode.accounts()[2]?.id ?? "";

    // Act
    const created = await client.send(
      new CreateMembersCommand({
        DetectorId,
        AccountDetails: [
          { AccountId: member, Email: "m@example.com" },
          { AccountId: "123456789012", Email: "outsider@example.com" },
        ],
      }),
    );

    // Assess
    expect(created.UnprocessedAccounts).toEqual([]);
    expect(orgMode.status(member, "us-east-1")).toBe("Enabled");
    expect(orgMode.status("123456789012", "us-east-1")).toBe("Created");
    expect(orgMode.counters.invitations()).toBe(0);
  });

  it("refuses, as delegated administrator, to invite an organization member, and under ALL to delete or disassociate it", async () => {
    // Prepare
    const orgMode = await started({
      seed: SEED,
      accountCount: 3,
      mode: "organization",
      autoEnableOrganizationMembers: "ALL",
    });
    const client = guardDuty(orgMode, "us-east-1");
    const DetectorId = await detectorOf(client);
    const member = orgMode.accounts()[2]?.id ?? "";
    await client.send(
      new CreateMembersCommand({
        DetectorId,
        AccountDetails: [{ AccountId: member, Email: "m@example.com" }],
      }),
    );

    // Act
    const invited = await client.send(new InviteMembersCommand({ DetectorId, AccountIds: [member] }));
    const deleted = await client.send(new DeleteMembersCommand({ DetectorId, AccountIds: [member] }));
    const removed = await client.send(new DisassociateMembersCommand({ DetectorId, AccountIds: [member] }));
    const configuration = await client.send(new DescribeOrganizationConfigurationCommand({ DetectorId }));

    // Assess
    expect(invited.UnprocessedAccounts).toEqual([
      { AccountId: member, Result: GuardDutyText.organizationMemberNotInvited },
    ]);
    expect(deleted.UnprocessedAccounts).toEqual([{ AccountId: member, Result: GuardDutyText.autoEnableAll }]);
    expect(removed.UnprocessedAccounts).toEqual([{ AccountId: member, Result: GuardDutyText.autoEnableAll }]);
    expect(orgMode.status(member, "us-east-1")).toBe("Enabled");
    expect(configuration).toMatchObject({
      AutoEnableOrganizationMembers: "ALL",
      MemberAccountLimitReached: false,
    });
    expect(configuration.Features?.map((f) => f.Name)).toContain("RUNTIME_MONITORING");
    expect(orgMode.organizationConfiguration("us-east-1").autoEnableOrganizationMembers).toBe("ALL");
  });

  it("behaves as invitation mode where the administrator is not the delegated administrator, until the management account designates it", async () => {
    // Prepare
    const orgMode = await started({
      seed: SEED,
      accountCount: 4,
      mode: "organization",
      delegatedAdministratorRegions: ["us-east-1"],
      credentials: { AKIDMANAGEMENT: "111111111111" },
    });
    const region = "eu-west-1";
    const client = guardDuty(orgMode, region);
    const management = guardDuty(orgMode, region, { accessKeyId: "AKIDMANAGEMENT" });
    const DetectorId = await detectorOf(client);
    const [first = "", second = ""] = orgMode
      .accounts()
      .slice(2)
      .map((a) => a.id);
    const create = (AccountId: string) =>
      client.send(
        new CreateMembersCommand({ DetectorId, AccountDetails: [{ AccountId, Email: "m@example.com" }] }),
      );
    const designate = () =>
      management.send(
        new EnableOrganizationAdminAccountCommand({ AdminAccountId: orgMode.administratorAccountId }),
      );

    // Act
    await create(first);
    const before = orgMode.status(first, region);
    const refused = await rejection(designate());
    await management.send(new CreateDetectorCommand({ Enable: true }));
    await designate();
    await create(second);
    const recreated = await create(first);
    const listed = await organizations(orgMode).send(
      new ListDelegatedAdministratorsCommand({ ServicePrincipal: "guardduty.amazonaws.com" }),
    );

    // Assess
    expect(before).toBe("Created");
    expect(refused).toBeInstanceOf(BadRequestException);
    expect((refused as Error).message).toMatch(/must first enable GuardDuty/);
    expect(orgMode.delegatedAdministrator(region)).toBe(orgMode.administratorAccountId);
    expect(recreated.UnprocessedAccounts).toEqual([]);
    expect([orgMode.status(first, region), orgMode.status(second, region)]).toEqual(["Enabled", "Enabled"]);
    expect(listed.DelegatedAdministrators?.map((d) => d.Id)).toEqual([orgMode.administratorAccountId]);
  });
});

describe("other clients", () => {
  it("serves an SDK client configured only through AWS_ENDPOINT_URL_* variables", async () => {
    // Prepare
    const endpoints = sandbox.env();
    Object.assign(process.env, endpoints);
    const client = new GuardDutyClient({
      region: "ap-northeast-3",
      credentials: { accessKeyId: "AKIDADMINISTRATOR", secretAccessKey: "sandbox" },
    });
    const org = new OrganizationsClient({
      region: "us-east-1",
      credentials: { accessKeyId: "AKIDADMINISTRATOR", secretAccessKey: "sandbox" },
    });
    clients.push(client, org);

    // Act
    try {
      const detectors = await client.send(new ListDetectorsCommand({}));
      const accounts = await org.send(new ListAccountsCommand({ MaxResults: 1 }));

      // Assess
      expect(detectors.DetectorIds).toHaveLength(1);
      expect(accounts.Accounts).toHaveLength(1);
      expect(sandbox.counters.calls("ListDetectors", "ap-northeast-3")).toBe(1);
    } finally {
      for (const name of Object.keys(endpoints)) {
        delete process.env[name];
      }
    }
  });

  // The AWS CLI (Python, botocore) is on the project's machines: a non-JavaScript client proves the wire format.
  it("serves the AWS CLI through --endpoint-url", { timeout: 15_000 }, async () => {
    // Prepare
    const env = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      AWS_ACCESS_KEY_ID: "AKIDADMINISTRATOR",
      AWS_SECRET_ACCESS_KEY: "sandbox",
      AWS_CONFIG_FILE: "/nonexistent",
      AWS_SHARED_CREDENTIALS_FILE: "/nonexistent",
      AWS_EC2_METADATA_DISABLED: "true",
    };

    // Act
    const { stdout } = await promisify(execFile)(
      "aws",
      [
        "guardduty",
        "list-detectors",
        "--endpoint-url",
        sandbox.url,
        "--region",
        "eu-west-1",
        "--output",
        "json",
      ],
      { env },
    );

    // Assess
    expect(JSON.parse(stdout)).toEqual({
      DetectorIds: [sandbox.detectorId(sandbox.administratorAccountId, "eu-west-1")],
    });
    expect(sandbox.counters.calls("ListDetectors", "eu-west-1")).toBeGreaterThanOrEqual(1);
  });
});

describe("client observation (createClients) over the wire", () => {
  it("reports each call's latency and every throttled attempt, also those the SDK's retries absorb", async () => {
    // Prepare: a sandbox that lets one CreateMembers call a second through.
    const throttling = await startSandbox({
      seed: 3,
      faults: { guardDutyThrottle: { ratePerSecond: 1, burst: 1 } },
      credentials: { observer: "222222222222" },
    });
    const seen: { api: string; throttled: boolean }[] = [];
    const environment = {
      AWS_ENDPOINT_URL_GUARDDUTY: throttling.url,
      AWS_ACCESS_KEY_ID: "observer",
      AWS_SECRET_ACCESS_KEY: "observer",
    };
    Object.assign(process.env, environment);
    const client = createClients({
      observe: (api, _ms, throttled) => seen.push({ api, throttled }),
    }).guardduty("sa-east-1");
    try {
      // Act: two ListDetectors in a row; the second is throttled once, then retried by the SDK.
      await client.send(new ListDetectorsCommand({}));
      await client.send(new ListDetectorsCommand({}));

      // Assess: one latency per call, and the throttled attempt(s) of the second call in between.
      expect(seen[0]).toEqual({ api: "GuardDuty.ListDetectors", throttled: false });
      expect(seen.filter((entry) => !entry.throttled)).toHaveLength(2);
      expect(seen.filter((entry) => entry.throttled).length).toBeGreaterThanOrEqual(1);
      expect(seen.at(-1)).toEqual({ api: "GuardDuty.ListDetectors", throttled: false });
    } finally {
      for (const name of Object.keys(environment)) delete process.env[name];
      await throttling.close();
    }
  });
});
