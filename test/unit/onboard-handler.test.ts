import { readFileSync } from "node:fs";
import { AccountClient, ListRegionsCommand } from "@aws-sdk/client-account";
import {
  BadRequestException,
  CreateMembersCommand,
  DeleteMembersCommand,
  DescribeOrganizationConfigurationCommand,
  DisassociateMembersCommand,
  GetMemberDetectorsCommand,
  GetMembersCommand,
  GuardDutyClient,
  InternalServerErrorException,
  InviteMembersCommand,
  ListDetectorsCommand,
  UpdateMemberDetectorsCommand,
} from "@aws-sdk/client-guardduty";
import {
  type Account,
  AccountNotFoundException,
  DescribeAccountCommand,
  ListAccountsCommand,
  OrganizationsClient,
} from "@aws-sdk/client-organizations";
import { SendMessageBatchCommand, type SendMessageBatchRequestEntry, SQSClient } from "@aws-sdk/client-sqs";
import type { SQSEvent, SQSRecord } from "aws-lambda";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, beforeEach, describe, expect, it, type MockInstance, vi } from "vitest";
import { DEFAULT_PROFILE, detectorFeatures, plansFor } from "#shared/protection";
import { accountIds, onboardingRequest, organizationsEvent, sqsRecord } from "../support/events.ts";
import { lambdaContext } from "../support/lambda.ts";

const RETRY = "https://sqs.us-east-1.amazonaws.com/111111111111/retry";
const DLQ = "https://sqs.us-east-1.amazonaws.com/111111111111/dlq";
const ACCEPT = "https://sqs.us-east-1.amazonaws.com/111111111111/accept";
const ADMIN = "111111111111";

const guardduty = mockClient(GuardDutyClient);
const account = mockClient(AccountClient);
const organizations = mockClient(OrganizationsClient);
const sqs = mockClient(SQSClient);
let stdout: MockInstance;
let stderr: MockInstance;

/** The organization as Organizations describes it; the e-mails must never reach a log line. */
const org = new Map<string, Account>();
const member = (id: string, state: "ACTIVE" | "SUSPENDED" = "ACTIVE") =>
  org.set(id, { Id: id, Email: `owner+${id}@example.com`, State: state, Name: `acct ${id}` });

/** Loads the real handler module, with a fresh cold start, under the given stage configuration. */
async function handler(env: Record<string, string> = {}) {
  vi.resetModules();
  vi.stubEnv("GUARDDUTY_REGIONS", "us-east-1,eu-west-1");
  vi.stubEnv("RETRY_QUEUE_URL", RETRY);
  vi.stubEnv("DEAD_LETTER_QUEUE_URL", DLQ);
  vi.stubEnv("ADMINISTRATOR_ACCOUNT_ID", ADMIN);
  vi.stubEnv("MAX_ATTEMPTS", "4");
  vi.stubEnv("POWERTOOLS_METRICS_NAMESPACE", "GuardDutyOnboardingTest");
  // The member-side step has tests of its own (acceptance.test.ts); here the administrator side alone.
  vi.stubEnv("ACCEPT_INVITATIONS", "false");
  vi.stubEnv("AWS_ACCESS_KEY_ID", "test");
  vi.stubEnv("AWS_SECRET_ACCESS_KEY", "test");
  for (const [name, value] of Object.entries(env)) vi.stubEnv(name, value);
  const module = await import("../../functions/onboard.ts");
  return (records: SQSRecord[]) => module.handler({ Records: records } satisfies SQSEvent, lambdaContext());
}

const sent = (queueUrl: string): SendMessageBatchRequestEntry[] =>
  sqs
    .commandCalls(SendMessageBatchCommand)
    .filter((call) => call.args[0].input.QueueUrl === queueUrl)
    .flatMap((call) => call.args[0].input.Entries ?? []);
const sentBodies = (queueUrl: string) => sent(queueUrl).map((entry) => JSON.parse(entry.MessageBody ?? ""));
/** Everything the function wrote: Powertools writes INFO and EMF metrics to stdout, WARN/ERROR to stderr. */
const output = () => [...stdout.mock.calls, ...stderr.mock.calls].map((call) => String(call[0]));
/** Log lines (EMF metric documents are JSON too, but carry `_aws` instead of a level). */
const logLines = () => output().filter((line) => !line.includes('"_aws"'));
/** EMF documents as `metric/dimension=value → value`. */
const emf = () =>
  output()
    .filter((line) => line.includes('"_aws"'))
    .map(
      (line) =>
        JSON.parse(line) as Record<string, unknown> & {
          _aws: {
            CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string }[] }[];
          };
        },
    )
    .flatMap((document) =>
      document._aws.CloudWatchMetrics.flatMap(({ Namespace, Dimensions, Metrics }) =>
        Metrics.map(({ Name }) => {
          const dimensions = (Dimensions[0] ?? []).map((key) => `${key}=${document[key]}`).join(",");
          return `${Namespace}/${Name}{${dimensions}} ${JSON.stringify(document[Name])}`;
        }),
      ),
    );

beforeEach(() => {
  org.clear();
  guardduty.reset();
  account.reset();
  organizations.reset();
  sqs.reset();
  guardduty.on(ListDetectorsCommand).resolves({ DetectorIds: ["det-1"] });
  guardduty.on(CreateMembersCommand).resolves({ UnprocessedAccounts: [] });
  guardduty.on(InviteMembersCommand).resolves({ UnprocessedAccounts: [] });
  organizations.on(DescribeAccountCommand).callsFake(({ AccountId }: { AccountId: string }) => {
    const account = org.get(AccountId);
    if (!account) {
      return Promise.reject(
        new AccountNotFoundException({ message: "not found", $metadata: { httpStatusCode: 400 } }),
      );
    }
    return Promise.resolve({ Account: account });
  });
  organizations.on(ListAccountsCommand).callsFake(({ NextToken }: { NextToken?: string }) => {
    const all = [...org.values()];
    const start = Number(NextToken ?? 0);
    const next = start + 20 < all.length ? String(start + 20) : undefined;
    return Promise.resolve({ Accounts: all.slice(start, start + 20), NextToken: next });
  });
  sqs.on(SendMessageBatchCommand).callsFake(({ Entries }: { Entries: { Id: string }[] }) =>
    Promise.resolve({
      Successful: Entries.map(({ Id }) => ({ Id, MessageId: `m-${Id}`, MD5OfMessageBody: "" })),
      Failed: [],
    }),
  );
  stdout = vi.spyOn(process.stdout, "write").mockImplementation(() => true);
  stderr = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
});

afterEach(() => {
  stdout.mockRestore();
  stderr.mockRestore();
  vi.unstubAllEnvs();
});

describe("onboard handler", () => {
  it("invites new accounts in every region and deletes their messages", async () => {
    const [a, b] = accountIds(2) as [string, string];
    member(a);
    member(b);
    const invoke = await handler();

    const result = await invoke([sqsRecord(organizationsEvent(a)), sqsRecord(onboardingRequest(b))]);

    expect(result).toEqual({ batchItemFailures: [] });
    expect(guardduty.commandCalls(CreateMembersCommand)).toHaveLength(2); // one coalesced call per region
    const invited = guardduty
      .commandCalls(InviteMembersCommand)
      .flatMap((call) => call.args[0].input.AccountIds);
    expect(invited.sort()).toEqual([a, a, b, b]);
    expect(sqs.commandCalls(SendMessageBatchCommand)).toHaveLength(0);
  });

  it("with regions all, onboards into the regions where the administrator has a detector, discovered once per container", async () => {
    // Prepare: three usable regions, no detector in ap-south-1.
    const [a, b] = accountIds(2) as [string, string];
    member(a);
    member(b);
    account.on(ListRegionsCommand).resolves({
      Regions: ["ap-south-1", "eu-west-1", "us-east-1"].map((RegionName) => ({
        RegionName,
        RegionOptStatus: "ENABLED_BY_DEFAULT",
      })),
    });
    guardduty.on(ListDetectorsCommand).callsFake(async (_input, getClient) => {
      const region = await getClient().config.region();
      return { DetectorIds: region === "ap-south-1" ? [] : [`det-${region}`] };
    });
    const invoke = await handler({ GUARDDUTY_REGIONS: "all" });

    // Act: two batches within the discovery's TTL.
    const first = await invoke([sqsRecord(organizationsEvent(a))]);
    const second = await invoke([sqsRecord(onboardingRequest(b))]);

    // Assess
    expect([first, second]).toEqual([{ batchItemFailures: [] }, { batchItemFailures: [] }]);
    const regionsOf = async (command: typeof CreateMembersCommand) =>
      Promise.all(guardduty.commandCalls(command).map((call) => call.thisValue.config.region()));
    expect((await regionsOf(CreateMembersCommand)).sort()).toEqual([
      "eu-west-1",
      "eu-west-1",
      "us-east-1",
      "us-east-1",
    ]);
    expect(account.commandCalls(ListRegionsCommand)).toHaveLength(1);
    expect(account.commandCalls(ListRegionsCommand)[0]?.args[0].input.AccountId).toBeUndefined();
    const discovered = logLines()
      .map((line) => JSON.parse(line))
      .filter((line) => line.message === "managed regions discovered");
    expect(discovered).toEqual([
      expect.objectContaining({ regions: ["eu-west-1", "us-east-1"], withoutDetector: ["ap-south-1"] }),
    ]);
  });

  it("dead-letters a malformed body verbatim without disturbing its batch siblings", async () => {
    const [a] = accountIds(1) as [string];
    member(a);
    const invoke = await handler();
    const garbage = "{this is not json";

    const result = await invoke([sqsRecord(garbage, "bad"), sqsRecord(organizationsEvent(a), "good")]);

    expect(result).toEqual({ batchItemFailures: [] });
    expect(sentBodies(DLQ)).toEqual([expect.objectContaining({ reason: "invalid-message", raw: garbage })]);
    expect(
      guardduty.commandCalls(InviteMembersCommand).flatMap((call) => call.args[0].input.AccountIds),
    ).toEqual([a, a]);
  });

  it("onboards a dead letter moved back verbatim and re-dead-letters an invalid one with its original body", async () => {
    const [a] = accountIds(1) as [string];
    member(a);
    const invoke = await handler();
    const at = "2026-11-26T06:00:00Z";

    const result = await invoke([
      sqsRecord({ reason: "access-denied", detail: "x", at, request: onboardingRequest(a, { attempt: 5 }) }),
      sqsRecord({ reason: "invalid-message", detail: "body is not JSON", at, raw: "{oops" }),
    ]);

    expect(result).toEqual({ batchItemFailures: [] });
    expect(
      guardduty.commandCalls(InviteMembersCommand).flatMap((call) => call.args[0].input.AccountIds),
    ).toEqual([a, a]);
    expect(sentBodies(DLQ)).toEqual([expect.objectContaining({ reason: "invalid-message", raw: "{oops" })]);
  });

  it("skips a FAILED creation event, a suspended account and the administrator itself", async () => {
    const [suspended] = accountIds(1) as [string];
    member(suspended, "SUSPENDED");
    const invoke = await handler();

    const result = await invoke([
      sqsRecord(organizationsEvent(undefined, { state: "FAILED" })),
      sqsRecord(onboardingRequest(suspended)),
      sqsRecord(onboardingRequest(ADMIN)),
    ]);

    expect(result).toEqual({ batchItemFailures: [] });
    expect(guardduty.commandCalls(CreateMembersCommand)).toHaveLength(0);
    expect(sqs.commandCalls(SendMessageBatchCommand)).toHaveLength(0);
    const reasons = logLines().map((line) => JSON.parse(line).reason);
    expect(reasons).toEqual(
      expect.arrayContaining(["account-not-created", "account-not-active", "administrator-account"]),
    );
  });

  it("dead-letters an account outside the organization without calling GuardDuty for it", async () => {
    const invoke = await handler();

    await invoke([sqsRecord(onboardingRequest("999999999999"))]);

    expect(sentBodies(DLQ).map((body) => [body.reason, body.region])).toEqual([
      ["not-in-organization", "us-east-1"],
      ["not-in-organization", "eu-west-1"],
    ]);
    expect(guardduty.commandCalls(CreateMembersCommand)).toHaveLength(0);
  });

  it("reports only the record whose dead-letter send failed inside an HTTP-200 SendMessageBatch", async () => {
    const [a] = accountIds(1) as [string];
    member(a);
    sqs
      .on(SendMessageBatchCommand)
      .callsFake(({ Entries }: { Entries: { Id: string; MessageBody: string }[] }) =>
        Promise.resolve({
          Successful: Entries.filter((entry) => !entry.MessageBody.includes("unlucky")).map(({ Id }) => ({
            Id,
            MessageId: "x",
            MD5OfMessageBody: "",
          })),
          Failed: Entries.filter((entry) => entry.MessageBody.includes("unlucky")).map(({ Id }) => ({
            Id,
            Code: "InternalError",
            SenderFault: false,
          })),
        }),
      );
    const invoke = await handler();

    const result = await invoke([
      sqsRecord("unlucky garbage", "unlucky"),
      sqsRecord("lucky garbage", "lucky"),
      sqsRecord(onboardingRequest(a), "fine"),
    ]);

    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: "unlucky" }] });
  });

  it("keeps every routed record on its queue when the retry queue cannot be reached", async () => {
    const ids = accountIds(3);
    for (const id of ids) member(id);
    guardduty
      .on(CreateMembersCommand)
      .rejects(new InternalServerErrorException({ message: "boom", $metadata: { httpStatusCode: 500 } }));
    sqs.on(SendMessageBatchCommand).rejects(new Error("connect ECONNREFUSED"));
    const invoke = await handler();

    const result = await invoke(ids.map((id) => sqsRecord(onboardingRequest(id), `m-${id}`)));

    expect(result.batchItemFailures.map((failure) => failure.itemIdentifier).sort()).toEqual(
      ids.map((id) => `m-${id}`),
    );
  });

  it("sends an all-failing batch to the retry queue with attempt + 1, the failing regions and a delay", async () => {
    const ids = accountIds(3);
    for (const id of ids) member(id);
    guardduty
      .on(CreateMembersCommand)
      .rejects(new InternalServerErrorException({ message: "boom", $metadata: { httpStatusCode: 500 } }));
    const invoke = await handler();

    const result = await invoke(ids.map((id) => sqsRecord(onboardingRequest(id))));

    expect(result).toEqual({ batchItemFailures: [] });
    const retries = sent(RETRY);
    expect(retries).toHaveLength(3);
    for (const entry of retries) {
      expect(entry.DelaySeconds).toBeGreaterThan(0);
      expect(entry.DelaySeconds).toBeLessThanOrEqual(900);
      expect(JSON.parse(entry.MessageBody ?? "")).toMatchObject({
        attempt: 1,
        origin: "retry",
        regions: ["us-east-1", "eu-west-1"],
        lastError: { reason: "service-unavailable" },
      });
    }
  });

  it("dead-letters retries-exhausted with the last result text once attempts are spent", async () => {
    const [a] = accountIds(1) as [string];
    member(a);
    guardduty
      .on(InviteMembersCommand)
      .resolves({ UnprocessedAccounts: [{ AccountId: a, Result: "A result text nobody has seen" }] });
    const invoke = await handler({ GUARDDUTY_REGIONS: "eu-west-1" });

    await invoke([sqsRecord(onboardingRequest(a, { attempt: 3, origin: "retry", regions: ["eu-west-1"] }))]);

    expect(sent(RETRY)).toHaveLength(0);
    expect(sentBodies(DLQ)).toEqual([
      expect.objectContaining({
        reason: "retries-exhausted",
        accountId: a,
        region: "eu-west-1",
        detail: "after 4 attempts, last unrecognized-result: A result text nobody has seen",
      }),
    ]);
  });

  it("enables members with CreateMembers alone in organization mode, then brings their plans to the profile and reads them back", async () => {
    const [a] = accountIds(1) as [string];
    member(a);
    const profile = detectorFeatures(plansFor(DEFAULT_PROFILE, "us-east-1"));
    const features = (s3: "ENABLED" | "DISABLED") =>
      profile.map((feature) => ({
        ...feature,
        Status: feature.Name === "S3_DATA_EVENTS" ? s3 : feature.Status,
      }));
    guardduty
      .on(GetMembersCommand)
      .resolves({ Members: [{ AccountId: a, RelationshipStatus: "Enabled" } as never] });
    guardduty
      .on(GetMemberDetectorsCommand)
      .resolvesOnce({
        MemberDataSourceConfigurations: [{ AccountId: a, Features: features("DISABLED") } as never],
      })
      .resolvesOnce({
        MemberDataSourceConfigurations: [{ AccountId: a, Features: features("DISABLED") } as never],
      })
      .resolves({
        MemberDataSourceConfigurations: [{ AccountId: a, Features: features("ENABLED") } as never],
      });
    guardduty.on(UpdateMemberDetectorsCommand).resolves({ UnprocessedAccounts: [] });
    guardduty
      .on(DescribeOrganizationConfigurationCommand)
      .resolves({ MemberAccountLimitReached: false, AutoEnableOrganizationMembers: "NEW" });
    const invoke = await handler({ MEMBERSHIP_MODE: "organization" });

    const result = await invoke([sqsRecord(onboardingRequest(a))]);

    expect(result).toEqual({ batchItemFailures: [] });
    expect(guardduty.commandCalls(InviteMembersCommand)).toHaveLength(0);
    expect(guardduty.commandCalls(UpdateMemberDetectorsCommand)[0]?.args[0].input).toMatchObject({
      AccountIds: [a],
      Features: expect.arrayContaining([
        expect.objectContaining({ Name: "S3_DATA_EVENTS", Status: "ENABLED" }),
      ]),
    });
    const lines = logLines().map((line) => JSON.parse(line));
    const outcomes = lines
      .filter((line) => line.accountId === a)
      .map((line) => `${line.outcome}/${line.reason}`);
    // Both regions read S3 data events off, were updated, and read back the profile.
    expect(outcomes).toEqual(["protected/plans-applied", "protected/plans-applied"]);
    expect(lines.filter((line) => line.finding).length).toBeGreaterThan(0);
  });

  it("dead-letters every region where the stack's account is not the delegated administrator in organization mode", async () => {
    const [a] = accountIds(1) as [string];
    member(a);
    guardduty.on(DescribeOrganizationConfigurationCommand).rejects(
      new BadRequestException({
        message: "The request failed because you do not have required AWS Organization master permission.",
        $metadata: { httpStatusCode: 400 },
      }),
    );
    const invoke = await handler({ MEMBERSHIP_MODE: "organization" });

    const result = await invoke([sqsRecord(onboardingRequest(a))]);

    expect(result).toEqual({ batchItemFailures: [] });
    expect(guardduty.commandCalls(CreateMembersCommand)).toHaveLength(0);
    expect(sentBodies(DLQ).map((body) => [body.accountId, body.reason])).toEqual([
      [a, "not-delegated-administrator"],
      [a, "not-delegated-administrator"],
    ]);
  });

  it("learns e-mails from the paged listing when that costs fewer calls than describing each account", async () => {
    const ids = accountIds(60);
    for (const id of ids) member(id);
    const invoke = await handler();

    await invoke(ids.map((id) => sqsRecord(onboardingRequest(id))));

    expect(organizations.commandCalls(ListAccountsCommand)).toHaveLength(3);
    expect(organizations.commandCalls(DescribeAccountCommand)).toHaveLength(0);
  });

  it("offboards a departed account in every region without asking Organizations", async () => {
    guardduty.on(DisassociateMembersCommand).resolves({ UnprocessedAccounts: [] });
    guardduty.on(DeleteMembersCommand).resolves({ UnprocessedAccounts: [] });
    const event = readFileSync(
      "events/lifecycle/organizations-close-account-result.service-event.json",
      "utf8",
    );
    const invoke = await handler();

    const result = await invoke([sqsRecord(JSON.parse(event))]);

    expect(result).toEqual({ batchItemFailures: [] });
    const asked = (command: typeof DeleteMembersCommand | typeof DisassociateMembersCommand) =>
      guardduty.commandCalls(command).map((call) => call.args[0].input.AccountIds);
    expect(asked(DisassociateMembersCommand)).toEqual([["888888888888"], ["888888888888"]]);
    expect(asked(DeleteMembersCommand)).toEqual([["888888888888"], ["888888888888"]]);
    expect(organizations.calls()).toHaveLength(0);
    expect(emf()).toContain(
      "GuardDutyOnboardingTest/Outcome{service=guardduty-onboarding,outcome=offboarded} 2",
    );
  });

  it("counts a tamper signal once and re-onboards each account it names", async () => {
    for (const id of ["222222222222", "333333333333"]) member(id);
    const event = readFileSync("events/lifecycle/guardduty-delete-members.cloudtrail-api-call.json", "utf8");
    const invoke = await handler({ GUARDDUTY_REGIONS: "us-east-1" });

    await invoke([sqsRecord(JSON.parse(event))]);

    expect(emf()).toContain("GuardDutyOnboardingTest/TamperSignal{service=guardduty-onboarding} 1");
    expect(
      guardduty
        .commandCalls(CreateMembersCommand)
        .flatMap((call) => (call.args[0].input.AccountDetails ?? []).map((account) => account.AccountId)),
    ).toEqual(["222222222222", "333333333333"]);
    expect(logLines().some((line) => line.includes("tamper signal") && line.includes("DeleteMembers"))).toBe(
      true,
    );
  });

  it("publishes outcome, dead-letter and retry counts as EMF metrics once per batch", async () => {
    const ids = accountIds(3);
    for (const id of ids) member(id);
    guardduty
      .on(InviteMembersCommand)
      .resolves({ UnprocessedAccounts: [{ AccountId: ids[2], Result: "Internal error" }] });
    const invoke = await handler({ GUARDDUTY_REGIONS: "eu-west-1" });

    await invoke([...ids.map((id) => sqsRecord(onboardingRequest(id))), sqsRecord("garbage")]);

    expect(emf()).toEqual(
      expect.arrayContaining([
        "GuardDutyOnboardingTest/Outcome{service=guardduty-onboarding,outcome=invited} 2",
        "GuardDutyOnboardingTest/Outcome{service=guardduty-onboarding,outcome=retry} 1",
        "GuardDutyOnboardingTest/Retried{service=guardduty-onboarding,attempt=1} 1",
        "GuardDutyOnboardingTest/Outcome{service=guardduty-onboarding,outcome=dead-letter} 1",
        "GuardDutyOnboardingTest/DeadLettered{service=guardduty-onboarding,reason=invalid-message} 1",
      ]),
    );
  });

  it("writes one structured line per (account, region) outcome and never an e-mail address", async () => {
    const ids = accountIds(4);
    for (const id of ids) member(id);
    guardduty.on(CreateMembersCommand).resolves({
      UnprocessedAccounts: [
        { AccountId: ids[1], Result: "The member account's email address is missing" },
        { AccountId: ids[2], Result: `Invalid email owner+${ids[2]}@example.com` },
      ],
    });
    const invoke = await handler();

    await invoke([
      ...ids.map((id) => sqsRecord(onboardingRequest(id))),
      sqsRecord('{"email":"leak@example.com"'),
    ]);

    const lines = logLines();
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) expect(line).not.toMatch(/@example\.com/);
    const outcomes = lines
      .map((line) => JSON.parse(line))
      .filter((line) => line.message === "account outcome");
    expect(outcomes).toHaveLength(8);
    expect(outcomes[0]).toMatchObject({
      level: "INFO",
      service: "guardduty-onboarding",
      accountId: ids[0],
      region: "us-east-1",
      outcome: "invited",
      attempt: 0,
      messageId: expect.any(String),
    });
  });

  it("hands invited accounts to the accept queue, one request per message with its regions, step accept and attempt 0", async () => {
    const [a, b] = accountIds(2) as [string, string];
    member(a);
    member(b);
    const invoke = await handler({ ACCEPT_INVITATIONS: "true", ACCEPT_QUEUE_URL: ACCEPT });

    const result = await invoke([
      sqsRecord(organizationsEvent(a, { id: "evt-a" }), "from-event"),
      sqsRecord(onboardingRequest(b, { attempt: 2, origin: "retry", regions: ["eu-west-1"] }), "from-retry"),
    ]);

    expect(result).toEqual({ batchItemFailures: [] });
    expect(sent(RETRY)).toEqual([]);
    expect(sent(DLQ)).toEqual([]);
    const handedOff = sent(ACCEPT);
    expect(handedOff.map((entry) => entry.DelaySeconds)).toEqual([undefined, undefined]);
    expect(handedOff.map((entry) => JSON.parse(entry.MessageBody ?? ""))).toEqual([
      expect.objectContaining({
        accountId: a,
        regions: ["us-east-1", "eu-west-1"],
        step: "accept",
        attempt: 0,
        origin: "event",
        correlationId: "evt-a",
      }),
      expect.objectContaining({ accountId: b, regions: ["eu-west-1"], step: "accept", attempt: 0 }),
    ]);
  });

  it("sends a replayed request that resumes at acceptance straight to the accept queue, calling neither GuardDuty nor Organizations", async () => {
    const [a] = accountIds(1) as [string];
    member(a);
    const invoke = await handler({ ACCEPT_INVITATIONS: "true", ACCEPT_QUEUE_URL: ACCEPT });

    const result = await invoke([
      sqsRecord(onboardingRequest(a, { step: "accept", origin: "replay", regions: ["eu-west-1"] })),
    ]);

    expect(result).toEqual({ batchItemFailures: [] });
    expect(guardduty.calls()).toHaveLength(0);
    expect(organizations.calls()).toHaveLength(0);
    expect(sentBodies(ACCEPT)).toEqual([
      expect.objectContaining({ accountId: a, regions: ["eu-west-1"], step: "accept", attempt: 0 }),
    ]);
    expect(sent(RETRY)).toEqual([]);
  });
});

describe("the repair of a member whose e-mail failed verification (step recreate)", () => {
  const ONE_REGION = { GUARDDUTY_REGIONS: "us-east-1" };
  const repair = (accountId: string, fields: Record<string, unknown> = {}) =>
    sqsRecord(onboardingRequest(accountId, { step: "recreate", origin: "reconcile", ...fields }));
  const withStatus = (statuses: Record<string, string>) =>
    guardduty.on(GetMembersCommand).callsFake(({ AccountIds = [] }: { AccountIds?: string[] }) =>
      Promise.resolve({
        Members: AccountIds.filter((id) => statuses[id]).map((id) => ({
          AccountId: id,
          RelationshipStatus: statuses[id],
        })),
        UnprocessedAccounts: AccountIds.filter((id) => !statuses[id]).map((id) => ({
          AccountId: id,
          Result:
            "The request is rejected because the input account ID is not associated with the current account.",
        })),
      }),
    );
  const commandsCalled = () => guardduty.calls().map((call) => (call.args[0] as object).constructor.name);

  beforeEach(() => {
    guardduty.on(DeleteMembersCommand).resolves({ UnprocessedAccounts: [] });
  });

  it("checks the status, deletes the member, then creates it with the e-mail Organizations gives now and invites it", async () => {
    // Prepare: the account was onboarded with an e-mail Organizations has since corrected.
    const [a] = accountIds(1) as [string];
    member(a);
    const invoke = await handler(ONE_REGION);
    await invoke([sqsRecord(onboardingRequest(a))]);
    org.set(a, { ...org.get(a), Email: `fixed+${a}@example.com` });
    guardduty.resetHistory();
    withStatus({ [a]: "EmailVerificationFailed" });

    // Act
    const result = await invoke([repair(a)]);

    // Assess
    expect(result).toEqual({ batchItemFailures: [] });
    expect(commandsCalled()).toEqual([
      "GetMembersCommand",
      "DeleteMembersCommand",
      "CreateMembersCommand",
      "InviteMembersCommand",
    ]);
    expect(guardduty.commandCalls(DeleteMembersCommand)[0]?.args[0].input).toEqual({
      DetectorId: "det-1",
      AccountIds: [a],
    });
    expect(guardduty.commandCalls(CreateMembersCommand)[0]?.args[0].input.AccountDetails).toEqual([
      { AccountId: a, Email: `fixed+${a}@example.com` },
    ]);
    expect(sent(RETRY)).toEqual([]);
    expect(sent(DLQ)).toEqual([]);
    expect(output().some((line) => line.includes("@example.com"))).toBe(false);
  });

  it("deletes at most 50 members a call, only those still EmailVerificationFailed", async () => {
    // Prepare
    const ids = accountIds(60);
    for (const id of ids) member(id);
    const fixed = ids[0] as string;
    withStatus(
      Object.fromEntries(ids.map((id) => [id, id === fixed ? "Invited" : "EmailVerificationFailed"])),
    );
    guardduty
      .on(CreateMembersCommand)
      .callsFake(({ AccountDetails = [] }: { AccountDetails?: { AccountId: string }[] }) =>
        Promise.resolve({
          UnprocessedAccounts: AccountDetails.filter(({ AccountId }) => AccountId === fixed).map(
            ({ AccountId }) => ({
              AccountId,
              Result:
                "The request is rejected because the given account ID is already a member of the current account.",
            }),
          ),
        }),
      );
    const invoke = await handler(ONE_REGION);

    // Act
    await invoke(ids.map((id) => repair(id)));

    // Assess
    const deleted = guardduty
      .commandCalls(DeleteMembersCommand)
      .map((call) => call.args[0].input.AccountIds ?? []);
    expect(deleted.map((part) => part.length)).toEqual([50, 9]);
    expect(deleted.flat()).not.toContain(fixed);
    const invited = guardduty
      .commandCalls(InviteMembersCommand)
      .flatMap((call) => call.args[0].input.AccountIds);
    expect(invited).toHaveLength(59);
    expect(invited).not.toContain(fixed);
  });

  it("leaves a member that is no longer EmailVerificationFailed alone and sends it no second invitation", async () => {
    // Prepare: someone repaired it by hand; it is invited, not yet accepted.
    const [a] = accountIds(1) as [string];
    member(a);
    withStatus({ [a]: "Invited" });
    guardduty.on(CreateMembersCommand).resolves({
      UnprocessedAccounts: [
        {
          AccountId: a,
          Result:
            "The request is rejected because the given account ID is already a member of the current account.",
        },
      ],
    });
    const invoke = await handler(ONE_REGION);

    // Act
    const result = await invoke([repair(a)]);

    // Assess
    expect(result).toEqual({ batchItemFailures: [] });
    expect(guardduty.commandCalls(DeleteMembersCommand)).toHaveLength(0);
    expect(guardduty.commandCalls(InviteMembersCommand)).toHaveLength(0);
    expect(logLines().map((line) => JSON.parse(line))).toEqual([
      expect.objectContaining({ accountId: a, outcome: "already", reason: "already-member" }),
    ]);
  });

  it("simply onboards a redelivered repair whose member was deleted already", async () => {
    // Prepare
    const [a] = accountIds(1) as [string];
    member(a);
    withStatus({});
    const invoke = await handler(ONE_REGION);

    // Act
    const result = await invoke([repair(a, { attempt: 1, origin: "retry" })]);

    // Assess
    expect(result).toEqual({ batchItemFailures: [] });
    expect(guardduty.commandCalls(DeleteMembersCommand)).toHaveLength(0);
    expect(guardduty.commandCalls(CreateMembersCommand)[0]?.args[0].input.AccountDetails).toEqual([
      { AccountId: a, Email: `owner+${a}@example.com` },
    ]);
    expect(guardduty.commandCalls(InviteMembersCommand)[0]?.args[0].input.AccountIds).toEqual([a]);
  });

  it("deletes nothing for an account no longer active in the organization", async () => {
    // Prepare
    const [suspended] = accountIds(1) as [string];
    member(suspended, "SUSPENDED");
    withStatus({ [suspended]: "EmailVerificationFailed" });
    const invoke = await handler(ONE_REGION);

    // Act
    const result = await invoke([repair(suspended)]);

    // Assess
    expect(result).toEqual({ batchItemFailures: [] });
    expect(guardduty.calls()).toHaveLength(0);
    expect(logLines().map((line) => JSON.parse(line))).toEqual([
      expect.objectContaining({ accountId: suspended, outcome: "skipped", reason: "account-not-active" }),
    ]);
  });

  it("retries a failing DeleteMembers at the recreate step, without creating the member", async () => {
    // Prepare
    const [a] = accountIds(1) as [string];
    member(a);
    withStatus({ [a]: "EmailVerificationFailed" });
    guardduty
      .on(DeleteMembersCommand)
      .rejects(new InternalServerErrorException({ message: "boom", $metadata: { httpStatusCode: 500 } }));
    const invoke = await handler(ONE_REGION);

    // Act
    const result = await invoke([repair(a)]);

    // Assess
    expect(result).toEqual({ batchItemFailures: [] });
    expect(guardduty.commandCalls(CreateMembersCommand)).toHaveLength(0);
    expect(sentBodies(RETRY)).toEqual([
      expect.objectContaining({
        accountId: a,
        step: "recreate",
        attempt: 1,
        origin: "retry",
        regions: ["us-east-1"],
        lastError: expect.objectContaining({ reason: "service-unavailable" }),
      }),
    ]);
    expect(sent(DLQ)).toEqual([]);
  });

  it("dead-letters a refused DeleteMembers, and a failing one once attempts are spent, to replay at the recreate step", async () => {
    // Prepare
    const [refused, exhausted] = accountIds(2) as [string, string];
    member(refused);
    member(exhausted);
    withStatus({ [refused]: "EmailVerificationFailed", [exhausted]: "EmailVerificationFailed" });
    guardduty.on(DeleteMembersCommand).callsFake(({ AccountIds = [] }: { AccountIds?: string[] }) =>
      AccountIds.includes(refused)
        ? Promise.reject(
            new BadRequestException({
              message: "The request is rejected",
              $metadata: { httpStatusCode: 400 },
            }),
          )
        : Promise.resolve({ UnprocessedAccounts: [{ AccountId: exhausted, Result: "Internal error" }] }),
    );
    const invoke = await handler(ONE_REGION);

    // Act: one message at a time, so that each DeleteMembers names one account.
    await invoke([repair(refused)]);
    await invoke([repair(exhausted, { attempt: 3, origin: "retry" })]);

    // Assess
    expect(sent(RETRY)).toEqual([]);
    expect(guardduty.commandCalls(CreateMembersCommand)).toHaveLength(0);
    expect(sentBodies(DLQ)).toEqual([
      expect.objectContaining({
        accountId: refused,
        reason: "rejected-by-guardduty",
        request: expect.objectContaining({ step: "recreate", regions: ["us-east-1"] }),
      }),
      expect.objectContaining({
        accountId: exhausted,
        reason: "retries-exhausted",
        detail: expect.stringContaining("guardduty-internal-error"),
        request: expect.objectContaining({ step: "recreate" }),
      }),
    ]);
  });
});
