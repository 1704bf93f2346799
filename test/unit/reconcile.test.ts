import { Logger } from "@aws-lambda-powertools/logger";
import { Metrics } from "@aws-lambda-powertools/metrics";
import { AccountClient, ListRegionsCommand } from "@aws-sdk/client-account";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import {
  GetMemberDetectorsCommand,
  GetMembersCommand,
  GuardDutyClient,
  ListDetectorsCommand,
  ListMembersCommand,
} from "@aws-sdk/client-guardduty";
import { ListAccountsCommand, OrganizationsClient } from "@aws-sdk/client-organizations";
import { SendMessageBatchCommand, SQSClient } from "@aws-sdk/client-sqs";
import type { SQSRecord } from "aws-lambda";
import { mockClient } from "aws-sdk-client-mock";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { DeadLetterIndex } from "#shared/dead-letter-index";
import { ConfigError } from "#shared/errors";
import { PipelineMetrics } from "#shared/metrics";
import { DEFAULT_PROFILE, detectorFeatures, plansFor } from "#shared/protection";
import {
  loadReconcileConfig,
  type ReconcileReport,
  type Reconciler,
  runUnit,
  runUnits,
  startRun,
  unitDeadline,
} from "#shared/reconcile";
import { ReconcileRuns } from "#shared/reconcile-runs";
import { ACCOUNTS_PER_CHUNK, parseUnit, type ReconcileUnit } from "#shared/reconcile-unit";
import { type LocalDynamo, startLocalDynamo } from "../../local/dynamodb.ts";
import { LOCAL_CREDENTIALS } from "../../local/sqs.ts";
import { readStack } from "../../local/stack.ts";
import { accountIds } from "../support/events.ts";

/**
 * The reconcile run, unit by unit: AWS's services mocked (aws-sdk-client-mock), the runs' table a real
 * DynamoDB-protocol server (dynalite), units taken off the mocked ReconcileQueue and run in order.
 */

const ADMIN = "210987654321";
const ENV = {
  GUARDDUTY_REGIONS: "us-east-1,eu-west-1",
  ONBOARDING_QUEUE_URL: "https://sqs.us-east-1.amazonaws.com/210987654321/onboarding",
  RECONCILE_QUEUE_URL: "https://sqs.us-east-1.amazonaws.com/210987654321/reconcile",
  RECONCILE_RUNS_TABLE: "reconcile-runs",
  ADMINISTRATOR_ACCOUNT_ID: ADMIN,
};
const DEFAULT_FEATURES = detectorFeatures(plansFor(DEFAULT_PROFILE, "us-east-1"));

describe("loadReconcileConfig", () => {
  it("reads the regions, both queues, the runs' table, the administrator, the mode and the member side", () => {
    expect(loadReconcileConfig(ENV)).toMatchObject({
      regions: ["us-east-1", "eu-west-1"],
      onboardingQueueUrl: ENV.ONBOARDING_QUEUE_URL,
      reconcileQueueUrl: ENV.RECONCILE_QUEUE_URL,
      runsTable: "reconcile-runs",
      administratorAccountId: ADMIN,
      mode: "invitation",
      acceptInvitations: true,
    });
    expect(loadReconcileConfig({ ...ENV, MEMBERSHIP_MODE: "organization" })).toMatchObject({
      mode: "organization",
      acceptInvitations: false,
    });
  });

  it("fails naming the variable when a queue or the runs' table is missing", () => {
    expect(() => loadReconcileConfig({ ...ENV, ONBOARDING_QUEUE_URL: "" })).toThrow(
      new ConfigError("ONBOARDING_QUEUE_URL", "is required (the queue URL)"),
    );
    expect(() => loadReconcileConfig({ ...ENV, RECONCILE_QUEUE_URL: "" })).toThrow(
      new ConfigError("RECONCILE_QUEUE_URL", "is required (the queue URL)"),
    );
    expect(() => loadReconcileConfig({ ...ENV, RECONCILE_RUNS_TABLE: " " })).toThrow(
      new ConfigError("RECONCILE_RUNS_TABLE", "is required (the reconcile runs' table)"),
    );
  });
});

describe("unitDeadline", () => {
  it("gives a unit at most 60 s, and keeps 30 s of the invocation back for its sends and records", () => {
    expect(unitDeadline(180_000, 1_000)).toBe(61_000);
    expect(unitDeadline(50_000, 1_000)).toBe(21_000);
    expect(unitDeadline(10_000, 1_000)).toBe(1_000);
  });
});

describe("a reconcile run", () => {
  const organizations = mockClient(OrganizationsClient);
  const guardduty = mockClient(GuardDutyClient);
  const sqs = mockClient(SQSClient);
  let dynamo: LocalDynamo;
  let dynamodb: DynamoDBClient;
  let table: string;
  let indexTable: string;
  let runNumber = 0;
  /** Units sent to ReconcileQueue and not yet run, in order. */
  let queued: ReconcileUnit[];
  /** Account id → relationship status (absent: not a member). */
  let statuses: Map<string, string>;
  /** When each member was last changed (default: before any run). */
  let updatedAt: Map<string, string>;
  let organization: { Id: string; State: string; Email: string }[];
  const ids = accountIds(2_050, 600000000000);

  const reconciler = (env: Record<string, string> = {}, metrics?: PipelineMetrics): Reconciler => {
    const config = { ...loadReconcileConfig({ ...ENV, ...env }), runsTable: table };
    return {
      clients: {
        organizations: new OrganizationsClient({ region: "us-east-1" }),
        account: new AccountClient({ region: "us-east-1" }),
        guardduty: (region: string) => new GuardDutyClient({ region }),
        sqs: new SQSClient({ region: "us-east-1" }),
      },
      runs: new ReconcileRuns(dynamodb, table),
      config,
      logger: new Logger({ serviceName: "guardduty-onboarding", logLevel: "INFO" }),
      metrics,
      now: () => new Date("2026-12-06T06:00:00Z"),
    };
  };
  /** Starts a run and runs every unit it enqueues, in order, each `times` times (a redelivery). */
  const drive = async (
    subject: Reconciler,
    times = 1,
  ): Promise<{ runId: string; units: ReconcileUnit[] }> => {
    const runId = `run-${++runNumber}`;
    await startRun(subject, runId);
    const units: ReconcileUnit[] = [];
    for (let unit = queued.shift(); unit; unit = queued.shift()) {
      units.push(unit);
      for (let time = 0; time < times; time++)
        await runUnit(subject, unit, { deadline: Date.now() + 60_000 });
    }
    return { runId, units };
  };
  /** The organization's first `count` accounts (the administrator first), and only their members. */
  const shrink = (count: number) => {
    organization = organization.slice(0, count);
    const kept = new Set(organization.map(({ Id }) => Id));
    for (const id of statuses.keys()) if (!kept.has(id)) statuses.delete(id);
  };
  const repairsSent = () =>
    sqs
      .commandCalls(SendMessageBatchCommand)
      .filter((call) => call.args[0].input.QueueUrl === ENV.ONBOARDING_QUEUE_URL)
      .flatMap((call) => call.args[0].input.Entries ?? [])
      .map((entry) => JSON.parse(entry.MessageBody ?? "") as Record<string, unknown>);

  beforeAll(async () => {
    dynamo = await startLocalDynamo(
      readStack().tables.filter(
        ({ name }) => name === "ReconcileRunsTable" || name === "DeadLetterIndexTable",
      ),
      ADMIN,
      "unit",
    );
    table = dynamo.tables.ReconcileRunsTable as string;
    indexTable = dynamo.tables.DeadLetterIndexTable as string;
    dynamodb = new DynamoDBClient({
      endpoint: dynamo.endpoint,
      region: "us-east-1",
      credentials: LOCAL_CREDENTIALS,
    });
  });

  afterAll(async () => {
    dynamodb.destroy();
    await dynamo.close();
  });

  beforeEach(() => {
    for (const mock of [organizations, guardduty, sqs]) mock.reset();
    queued = [];
    organization = [
      { Id: ADMIN, State: "ACTIVE", Email: "admin@example.com" },
      ...ids.map((Id, index) => ({
        Id,
        State: index % 100 === 99 ? "SUSPENDED" : "ACTIVE",
        Email: `owner+${Id}@example.com`,
      })),
    ];
    // Every fourth account protected, invited, not a member, monitoring stopped.
    statuses = new Map(
      ids.flatMap((id, index) => {
        const status = ["Enabled", "Invited", undefined, "Disabled"][index % 4];
        return status ? [[id, status] as [string, string]] : [];
      }),
    );
    // ListAccounts pages of 20, the token being the next page's offset.
    organizations.on(ListAccountsCommand).callsFake((input: { NextToken?: string }) => {
      const from = Number(input.NextToken ?? 0);
      const next = from + 20;
      return {
        Accounts: organization.slice(from, next),
        NextToken: next < organization.length ? String(next) : undefined,
      };
    });
    guardduty.on(ListDetectorsCommand).resolves({ DetectorIds: ["det-1"] });
    updatedAt = new Map();
    const member = (AccountId: string) => ({
      AccountId,
      MasterId: ADMIN,
      Email: `owner+${AccountId}@example.com`,
      RelationshipStatus: statuses.get(AccountId),
      UpdatedAt: updatedAt.get(AccountId) ?? "2026-12-01T00:00:00.000Z",
    });
    // ListMembers pages of 50, the token being the next page's offset.
    guardduty.on(ListMembersCommand).callsFake((input: { NextToken?: string }) => {
      const ids = [...statuses.keys()].sort();
      const from = Number(input.NextToken ?? 0);
      return {
        Members: ids.slice(from, from + 50).map(member),
        NextToken: from + 50 < ids.length ? String(from + 50) : undefined,
      };
    });
    guardduty.on(GetMembersCommand).callsFake((input: { AccountIds: string[] }) => ({
      Members: input.AccountIds.filter((id) => statuses.has(id)).map((AccountId) => ({
        AccountId,
        MasterId: ADMIN,
        Email: `owner+${AccountId}@example.com`,
        RelationshipStatus: statuses.get(AccountId),
        UpdatedAt: "2026-12-01T00:00:00Z",
      })),
      UnprocessedAccounts: input.AccountIds.filter((id) => !statuses.has(id)).map((AccountId) => ({
        AccountId,
        Result: "The request is rejected because the input account ID is not associated with a member.",
      })),
    }));
    guardduty.on(GetMemberDetectorsCommand).callsFake((input: { AccountIds: string[] }) => ({
      MemberDataSourceConfigurations: input.AccountIds.map((AccountId) => ({
        AccountId,
        Features: DEFAULT_FEATURES,
      })),
      UnprocessedAccounts: [],
    }));
    sqs
      .on(SendMessageBatchCommand)
      .callsFake((input: { QueueUrl: string; Entries: { Id: string; MessageBody: string }[] }) => {
        if (input.QueueUrl === ENV.RECONCILE_QUEUE_URL)
          for (const entry of input.Entries) queued.push(parseUnit(entry.MessageBody));
        return { Successful: input.Entries.map(({ Id }) => ({ Id, MessageId: Id, MD5OfMessageBody: "" })) };
      });
  });

  afterEach(() => {
    vi.restoreAllMocks();
  });

  it("lists the organization a chunk at a time, judges each chunk in every region, enqueues each account's repairs once, and reports the run once", async () => {
    // Prepare: Powertools writes INFO to stdout, WARN and ERROR to stderr.
    const stdout = vi.spyOn(process.stdout, "write").mockImplementation(() => true);
    const stderr = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    const subject = reconciler();

    // Act
    const { runId, units } = await drive(subject);

    // Assess: 2,051 accounts are three listing units (1,000 a chunk) and three judging units.
    expect(units.map(({ kind, chunk }) => `${kind} ${chunk}`)).toEqual([
      "accounts 0",
      "pairs 0",
      "accounts 1",
      "pairs 1",
      "accounts 2",
      "pairs 2",
      "members 0",
    ]);
    expect(ACCOUNTS_PER_CHUNK).toBe(1_000);
    expect(organizations.commandCalls(ListAccountsCommand)).toHaveLength(Math.ceil(2_051 / 20));
    // ≤ 50 ids a call, per chunk and region: ⌈desired/50⌉ GetMembers.
    const sizes = guardduty
      .commandCalls(GetMembersCommand)
      .map((call) => call.args[0].input.AccountIds?.length ?? 0);
    expect(Math.max(...sizes)).toBe(50);
    expect(sizes.reduce((sum, size) => sum + size, 0)).toBe(2 * (2_050 - 20));
    const desired = ids.filter((_, index) => index % 100 !== 99);
    const expected = (status: string | undefined) =>
      desired.filter((id) => statuses.get(id) === status).length;
    const suspendedMembers = ids.filter((_, index) => index % 100 === 99);
    const report = (await subject.runs.report(runId)) as ReconcileReport;
    expect(report).toMatchObject({
      runId,
      regions: ["us-east-1", "eu-west-1"],
      accounts: 2_051,
      inactive: 20,
      summary: {
        desired: 2 * desired.length,
        protected: 2 * expected("Enabled"),
        byVerdict: expect.objectContaining({
          protected: 2 * expected("Enabled"),
          "invited-not-accepted": 2 * expected("Invited"),
          "not-a-member": 2 * expected(undefined),
          "monitoring-stopped": 2 * expected("Disabled"),
        }),
      },
      byRegion: {
        "us-east-1": expected("Enabled") / desired.length,
        "eu-west-1": expected("Enabled") / desired.length,
      },
      repairs: {
        "invited-not-accepted": 2 * expected("Invited"),
        "not-a-member": 2 * expected(undefined),
        "monitoring-stopped": 2 * expected("Disabled"),
        "offboard-pending": 2 * suspendedMembers.length,
      },
      notEnqueued: 0,
      regionsFailed: {},
    });
    // One request per (account, repair), naming both regions; the suspended accounts' members (every
    // hundredth account, a member with monitoring stopped) are offboarded.
    const sent = repairsSent();
    expect(sent).toHaveLength(desired.length - expected("Enabled") + suspendedMembers.length);
    expect(sent.filter((request) => request.action === "offboard")).toEqual(
      suspendedMembers.map((accountId) => ({
        version: 1,
        accountId,
        regions: ["us-east-1", "eu-west-1"],
        attempt: 0,
        origin: "reconcile",
        action: "offboard",
        requestedAt: "2026-12-06T06:00:00.000Z",
        correlationId: runId,
      })),
    );
    expect(sent[0]).toEqual({
      version: 1,
      accountId: ids[1],
      regions: ["us-east-1", "eu-west-1"],
      attempt: 0,
      origin: "reconcile",
      requestedAt: "2026-12-06T06:00:00.000Z",
      correlationId: runId,
      step: "accept",
    });
    const lines = [...stdout.mock.calls, ...stderr.mock.calls].map((call) => String(call[0]));
    expect(lines.filter((line) => line.includes('"reconcile coverage"'))).toHaveLength(1);
    expect(lines.join("")).not.toContain("@");
  });

  it("offboards the members of accounts that left the organization, in the regions they are members of, but none changed since the run started", async () => {
    vi.spyOn(process.stdout, "write").mockImplementation(() => true);
    const stderr = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    shrink(5);
    // Two members whose accounts are not in the organization: one left long ago, one joined after the
    // run's listing (its member was created since).
    const [left, joined] = ["600000009001", "600000009002"];
    statuses.set(left, "Enabled").set(joined, "Invited");
    updatedAt.set(joined, "2999-01-01T00:00:00.000Z");

    const subject = reconciler();
    const { runId } = await drive(subject);

    const report = (await subject.runs.report(runId)) as ReconcileReport;
    const offboards = repairsSent().filter((request) => request.action === "offboard");
    expect(offboards).toEqual([
      expect.objectContaining({ accountId: left, regions: ["us-east-1", "eu-west-1"], origin: "reconcile" }),
    ]);
    expect(report.summary.byVerdict["offboard-pending"]).toBe(2);
    expect(report.repairs["offboard-pending"]).toBe(2);
    // Not desired: the ratio counts the organization's accounts only.
    expect(report.summary).toMatchObject({ desired: 8, protected: 2 });
    expect(stderr.mock.calls.map((call) => JSON.parse(String(call[0])))).toContainEqual(
      expect.objectContaining({
        message: "members of accounts no longer active in the organization (their event was lost)",
        accounts: 1,
        offboarding: true,
      }),
    );
  });

  it("reports departed accounts' members without offboarding them when offboardDepartedAccounts is off", async () => {
    vi.spyOn(process.stdout, "write").mockImplementation(() => true);
    vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    shrink(5);
    statuses.set("600000009001", "Enabled");

    const subject = reconciler({ OFFBOARD_DEPARTED_ACCOUNTS: "false" });
    const { runId } = await drive(subject);

    const report = (await subject.runs.report(runId)) as ReconcileReport;
    expect(report.summary.byVerdict["offboard-pending"]).toBe(2);
    expect(report.repairs["offboard-pending"]).toBeUndefined();
    expect(report.notEnqueued).toBe(0);
    expect(repairsSent().filter((request) => request.action === "offboard")).toEqual([]);
  });

  it("scans a region's members from its last token when its time is spent, and completes the run only when every region is scanned", async () => {
    vi.spyOn(process.stdout, "write").mockImplementation(() => true);
    vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    shrink(120);
    const subject = reconciler();
    await startRun(subject, "run-scan");
    await runUnit(subject, queued.shift() as ReconcileUnit, { deadline: Date.now() + 60_000 });
    const [pairs, members] = queued.splice(0, 2) as [ReconcileUnit, ReconcileUnit];
    await runUnit(subject, pairs, { deadline: Date.now() + 60_000 });

    // Act: the members unit runs out of time after one page per region.
    await runUnit(subject, members, { deadline: 0 });

    // Assess: each region goes on from its second page, in one unit; the run waits for it.
    expect(queued).toEqual([
      {
        ...members,
        chunk: 1,
        scans: [
          { region: "us-east-1", nextToken: "50" },
          { region: "eu-west-1", nextToken: "50" },
        ],
      },
    ]);
    expect(await subject.runs.report("run-scan")).toBeUndefined();
    await runUnit(subject, queued.shift() as ReconcileUnit, { deadline: Date.now() + 60_000 });
    expect(queued).toEqual([]);
    expect(await subject.runs.report("run-scan")).toMatchObject({ accounts: 120 });
  });

  it("counts a unit delivered twice once, and reports the run once", async () => {
    vi.spyOn(process.stdout, "write").mockImplementation(() => true);
    const stderr = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    shrink(41);

    const subject = reconciler();
    const { runId } = await drive(subject, 2);

    const report = (await subject.runs.report(runId)) as ReconcileReport;
    expect(report).toMatchObject({ accounts: 41, summary: { desired: 80 } });
    expect(stderr.mock.calls.filter((call) => String(call[0]).includes('"reconcile coverage"'))).toHaveLength(
      1,
    );
  });

  it("publishes Coverage (0–1) overall and by region, CoveragePairs by verdict and DriftFound, once", async () => {
    const stdout = vi.spyOn(process.stdout, "write").mockImplementation(() => true);
    vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    shrink(5);
    const metrics = new PipelineMetrics(
      new Metrics({ namespace: "Test", serviceName: "guardduty-onboarding" }),
    );

    await drive(reconciler({}, metrics));

    const documents = stdout.mock.calls
      .map((call) => JSON.parse(String(call[0])) as Record<string, unknown>)
      .filter((document) => "_aws" in document);
    const metric = (name: string, dimension?: Record<string, string>) =>
      documents.filter(
        (document) =>
          name in document &&
          Object.entries(dimension ?? {}).every(([key, value]) => document[key] === value) &&
          (dimension !== undefined || !("region" in document)),
      );
    expect(metric("Coverage").map((document) => document.Coverage)).toEqual([0.25]);
    expect(metric("Coverage", { region: "eu-west-1" }).map((document) => document.Coverage)).toEqual([0.25]);
    expect(metric("CoveragePairs", { verdict: "not-a-member" })[0]).toMatchObject({ CoveragePairs: 2 });
    expect(metric("CoveragePairs", { verdict: "resigned" })[0]).toMatchObject({ CoveragePairs: 0 });
    expect(documents).toContainEqual(
      expect.objectContaining({ service: "guardduty-onboarding", DriftFound: 6 }),
    );
  });

  it("judges one region of a chunk when its time is spent, and hands the other regions on as a unit of their own", async () => {
    vi.spyOn(process.stdout, "write").mockImplementation(() => true);
    vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    shrink(5);
    const subject = reconciler();
    await startRun(subject, "run-late");
    await runUnit(subject, queued.shift() as ReconcileUnit, { deadline: Date.now() + 60_000 });
    const [pairs, members] = queued.splice(0, 2) as [ReconcileUnit, ReconcileUnit];
    await runUnit(subject, members, { deadline: Date.now() + 60_000 });

    // Act: the judging unit starts with its deadline already passed.
    await runUnit(subject, pairs, { deadline: 0 });

    // Assess: us-east-1 judged, eu-west-1 handed on; the run is not reported until it is judged too.
    expect(queued).toEqual([{ ...pairs, pending: ["eu-west-1"] }]);
    expect(await subject.runs.report("run-late")).toBeUndefined();
    await runUnit(subject, queued.shift() as ReconcileUnit, { deadline: 0 });
    expect(await subject.runs.report("run-late")).toMatchObject({ summary: { desired: 8, protected: 2 } });
  });

  it("leaves an invited member alone when the member side is off, and reports a region it could not read", async () => {
    vi.spyOn(process.stdout, "write").mockImplementation(() => true);
    const stderr = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    shrink(5);
    guardduty.on(ListDetectorsCommand).rejectsOnce(new Error("socket hang up")).resolves({ DetectorIds: [] });

    const subject = reconciler({ ACCEPT_INVITATIONS: "false" });
    const { runId } = await drive(subject);

    const report = (await subject.runs.report(runId)) as ReconcileReport;
    const messages = stderr.mock.calls.map(
      (call) => (JSON.parse(String(call[0])) as { message: string }).message,
    );
    expect(report.summary.byVerdict["no-administrator-detector"]).toBe(4);
    expect(Object.keys(report.regionsFailed)).toHaveLength(1);
    expect(repairsSent()).toEqual([]);
    expect(messages).toEqual([
      "members could not be read; the region is left out of this run",
      expect.stringContaining("reconcile coverage"),
      "GuardDuty is not enabled for the administrator in these regions: nothing can join there",
    ]);
  });

  it("enqueues nothing for an opt-in region an account has not enabled, and logs accounts whose opt-in it could not read", async () => {
    const stdout = vi.spyOn(process.stdout, "write").mockImplementation(() => true);
    const stderr = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    const account = mockClient(AccountClient);
    shrink(5);
    const [protectedId, , , disabledId] = ids as [string, string, string, string];
    account.on(ListRegionsCommand).callsFake((input: { AccountId: string }) => {
      if (input.AccountId === disabledId) throw new Error("AccessDeniedException: no trusted access");
      return {
        Regions:
          input.AccountId === protectedId ? [{ RegionName: "af-south-1", RegionOptStatus: "ENABLED" }] : [],
      };
    });

    const subject = reconciler({ GUARDDUTY_REGIONS: "af-south-1" });
    const { runId } = await drive(subject);

    account.restore();
    const report = (await subject.runs.report(runId)) as ReconcileReport;
    const lines = [...stdout.mock.calls, ...stderr.mock.calls].map(
      (call) => JSON.parse(String(call[0])) as Record<string, unknown>,
    );
    expect(report.summary).toMatchObject({ desired: 2, protected: 1, ratio: 0.5 });
    expect(report.summary.byVerdict["region-not-enabled-for-account"]).toBe(2);
    expect(repairsSent().map(({ accountId }) => accountId)).toEqual([disabledId]);
    expect(lines).toContainEqual(
      expect.objectContaining({
        message: "accounts have not enabled these opt-in regions: not desired there until they opt in",
        pairs: 2,
        regions: ["af-south-1"],
      }),
    );
    expect(lines).toContainEqual(
      expect.objectContaining({
        message: "opt-in regions could not be read; the account's pairs were judged as enabled",
        accountId: disabledId,
      }),
    );
  });

  it("counts and logs a repair SQS did not confirm, naming the account", async () => {
    vi.spyOn(process.stdout, "write").mockImplementation(() => true);
    const stderr = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    shrink(5);
    sqs.on(SendMessageBatchCommand, { QueueUrl: ENV.ONBOARDING_QUEUE_URL }).resolves({
      Successful: [],
      Failed: [{ Id: "1", Code: "InternalError", SenderFault: false }],
    });

    const subject = reconciler();
    const { runId } = await drive(subject);

    const report = (await subject.runs.report(runId)) as ReconcileReport;
    const lines = stderr.mock.calls.map((call) => JSON.parse(String(call[0])) as Record<string, unknown>);
    expect(report.notEnqueued).toBe(6);
    expect(report.repairs).toEqual({});
    expect(
      lines.filter((line) => line.message === "repair not enqueued; the next run enqueues it again"),
    ).toContainEqual(expect.objectContaining({ accountId: ids[2] }));
  });

  it("reports the pairs whose dead letter waits in the DLQ and enqueues no repair for them", async () => {
    vi.spyOn(process.stdout, "write").mockImplementation(() => true);
    const stderr = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    shrink(5);
    const missing = ids[2] as string;
    const index = new DeadLetterIndex(dynamodb, indexTable);
    await index.record([
      { accountId: missing, region: "us-east-1", reason: "member-limit-reached" },
      { accountId: missing, region: "eu-west-1", reason: "member-limit-reached" },
    ]);

    const subject = { ...reconciler(), deadLetters: index };
    const { runId } = await drive(subject);

    const report = (await subject.runs.report(runId)) as ReconcileReport;
    expect(report.waitingInDeadLetterQueue).toBe(2);
    expect(report.repairs).toEqual({ "invited-not-accepted": 2, "monitoring-stopped": 2 });
    expect(repairsSent().map(({ accountId }) => accountId)).not.toContain(missing);
    expect(stderr.mock.calls.map((call) => JSON.parse(String(call[0])))).toContainEqual(
      expect.objectContaining({
        message:
          "pairs whose dead letter waits in the DLQ were not enqueued again: `gd-onboard dlq list` says why",
        pairs: 2,
      }),
    );
  });

  it("forgets the dead letter of a pair in an opt-in region the account has not enabled, so that its repair is not held back once it opts in", async () => {
    vi.spyOn(process.stdout, "write").mockImplementation(() => true);
    vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    const account = mockClient(AccountClient);
    account.on(ListRegionsCommand).resolves({ Regions: [] });
    shrink(5);
    const optedOut = ids[1] as string;
    const index = new DeadLetterIndex(dynamodb, indexTable);
    await index.record([{ accountId: optedOut, region: "af-south-1", reason: "access-denied" }]);

    const subject = { ...reconciler({ GUARDDUTY_REGIONS: "af-south-1" }), deadLetters: index };
    const { runId } = await drive(subject);

    account.restore();
    const report = (await subject.runs.report(runId)) as ReconcileReport;
    expect(report.summary.byVerdict["region-not-enabled-for-account"]).toBe(4);
    expect(report.waitingInDeadLetterQueue).toBe(0);
    expect(await index.waiting([{ accountId: optedOut, region: "af-south-1" }])).toEqual(new Set());
  });

  it("enqueues every repair when the dead-letter index cannot be read, and says so", async () => {
    vi.spyOn(process.stdout, "write").mockImplementation(() => true);
    const stderr = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    shrink(5);

    const subject = { ...reconciler(), deadLetters: new DeadLetterIndex(dynamodb, "no-such-table") };
    const { runId } = await drive(subject);

    const report = (await subject.runs.report(runId)) as ReconcileReport;
    expect(report.waitingInDeadLetterQueue).toBe(0);
    expect(repairsSent()).toHaveLength(3);
    expect(stderr.mock.calls.map((call) => JSON.parse(String(call[0])).message)).toContain(
      "dead-letter index not read; pairs waiting in the DLQ are enqueued again",
    );
  });

  it("fails a unit whose own sends SQS did not confirm, so that SQS delivers it again", async () => {
    vi.spyOn(process.stdout, "write").mockImplementation(() => true);
    vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    const subject = reconciler();
    await startRun(subject, "run-unsent");
    const first = queued.shift() as ReconcileUnit;
    sqs.on(SendMessageBatchCommand, { QueueUrl: ENV.RECONCILE_QUEUE_URL }).resolves({
      Successful: [{ Id: "0", MessageId: "m", MD5OfMessageBody: "" }],
      Failed: [{ Id: "1", Code: "InternalError", SenderFault: false }],
    });

    await expect(runUnit(subject, first, { deadline: Date.now() + 60_000 })).rejects.toThrow(
      "ReconcileQueue did not confirm 1 unit(s): InternalError",
    );
  });

  it("starts a run once: a schedule event delivered again enqueues the first unit again only while the run has not moved", async () => {
    vi.spyOn(process.stdout, "write").mockImplementation(() => true);
    shrink(5);
    const subject = reconciler();

    const first = await startRun(subject, "run-twice");
    const again = await startRun(subject, "run-twice");
    await runUnit(subject, queued.shift() as ReconcileUnit, { deadline: Date.now() + 60_000 });
    queued = [];
    const late = await startRun(subject, "run-twice");

    expect([first.started, again.started, late.started]).toEqual([true, false, false]);
    expect(queued).toEqual([]);
    expect(
      sqs
        .commandCalls(SendMessageBatchCommand)
        .filter((call) =>
          call.args[0].input.Entries?.[0]?.MessageBody?.includes(
            '"kind":"accounts","runId":"run-twice","regions":["us-east-1","eu-west-1"],"chunk":0}',
          ),
        ),
    ).toHaveLength(2);
  });

  it("reports a body that is not a unit as a batch item failure, and runs its siblings", async () => {
    vi.spyOn(process.stdout, "write").mockImplementation(() => true);
    const stderr = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    shrink(5);
    const subject = reconciler();
    await subject.runs.start("run-records", ["us-east-1", "eu-west-1"]);
    const record = (messageId: string, body: string) => ({ messageId, body }) as SQSRecord;
    const unit = {
      version: 1,
      kind: "accounts",
      runId: "run-records",
      regions: ["us-east-1", "eu-west-1"],
      chunk: 0,
    };

    const result = await runUnits(
      [record("bad", '{"kind":"nothing"}'), record("good", JSON.stringify(unit))],
      subject,
      {
        deadline: Date.now() + 60_000,
      },
    );

    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: "bad" }] });
    expect(queued.map(({ kind }) => kind)).toEqual(["pairs", "members"]);
    expect(stderr.mock.calls.map((call) => JSON.parse(String(call[0])))).toContainEqual(
      expect.objectContaining({ message: "reconcile unit failed; SQS delivers it again", messageId: "bad" }),
    );
  });
});
