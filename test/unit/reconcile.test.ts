import { Logger } from "@aws-lambda-powertools/logger";
import { Metrics } from "@aws-lambda-powertools/metrics";
import { AccountClient, ListRegionsCommand } from "@aws-sdk/client-account";
import {
  GetMemberDetectorsCommand,
  GuardDutyClient,
  ListDetectorsCommand,
  ListMembersCommand,
} from "@aws-sdk/client-guardduty";
import { ListAccountsCommand, OrganizationsClient } from "@aws-sdk/client-organizations";
import { SendMessageBatchCommand, SQSClient } from "@aws-sdk/client-sqs";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ConfigError } from "#shared/errors";
import { PipelineMetrics } from "#shared/metrics";
import { DEFAULT_PROFILE, detectorFeatures, plansFor } from "#shared/protection";
import { loadReconcileConfig, reconcile } from "#shared/reconcile";
import { accountIds } from "../support/events.ts";

const ENV = {
  GUARDDUTY_REGIONS: "us-east-1,eu-west-1",
  ONBOARDING_QUEUE_URL: "https://sqs.us-east-1.amazonaws.com/210987654321/onboarding",
  RETRY_QUEUE_URL: "https://sqs.us-east-1.amazonaws.com/210987654321/retry",
  DEAD_LETTER_QUEUE_URL: "https://sqs.us-east-1.amazonaws.com/210987654321/dead-letter",
  ADMINISTRATOR_ACCOUNT_ID: "210987654321",
};

/** Every plan of the default profile, as GetMemberDetectors reads it back. */
const DEFAULT_FEATURES = detectorFeatures(plansFor(DEFAULT_PROFILE, "us-east-1"));

describe("loadReconcileConfig", () => {
  it("reads the regions, the onboarding queue, the administrator, the mode and the member side", () => {
    expect(loadReconcileConfig(ENV)).toMatchObject({
      regions: ["us-east-1", "eu-west-1"],
      onboardingQueueUrl: ENV.ONBOARDING_QUEUE_URL,
      administratorAccountId: "210987654321",
      mode: "invitation",
      acceptInvitations: true,
    });
    expect(loadReconcileConfig({ ...ENV, MEMBERSHIP_MODE: "organization" })).toMatchObject({
      mode: "organization",
      acceptInvitations: false,
    });
  });

  it("fails naming ONBOARDING_QUEUE_URL when it is missing", () => {
    expect(() => loadReconcileConfig({ ...ENV, ONBOARDING_QUEUE_URL: "" })).toThrow(
      new ConfigError("ONBOARDING_QUEUE_URL", "is required (the queue URL)"),
    );
  });
});

describe("reconcile", () => {
  const organizations = mockClient(OrganizationsClient);
  const guardduty = mockClient(GuardDutyClient);
  const sqs = mockClient(SQSClient);
  const clients = {
    organizations: new OrganizationsClient({ region: "us-east-1" }),
    account: new AccountClient({ region: "us-east-1" }),
    guardduty: (region: string) => new GuardDutyClient({ region }),
    sqs: new SQSClient({ region: "us-east-1" }),
  };
  const ids = accountIds(4, 600000000000);
  const [protectedId, invitedId, missingId, disabledId] = ids as [string, string, string, string];
  const member = { MasterId: "210987654321", Email: "owner@example.com", UpdatedAt: "2026-11-26T05:00:00Z" };
  const sentBodies = () =>
    sqs
      .commandCalls(SendMessageBatchCommand)
      .flatMap((call) => call.args[0].input.Entries ?? [])
      .map((entry) => JSON.parse(entry.MessageBody ?? "") as Record<string, unknown>);

  beforeEach(() => {
    for (const mock of [organizations, guardduty, sqs]) mock.reset();
    organizations.on(ListAccountsCommand).resolves({
      Accounts: ids.map((Id) => ({ Id, State: "ACTIVE", Email: `owner+${Id}@example.com` })),
    });
    guardduty.on(ListDetectorsCommand).resolves({ DetectorIds: ["det-1"] });
    guardduty.on(ListMembersCommand).resolves({
      Members: [
        { ...member, AccountId: protectedId, RelationshipStatus: "Enabled" },
        { ...member, AccountId: invitedId, RelationshipStatus: "Invited" },
        { ...member, AccountId: disabledId, RelationshipStatus: "Disabled" },
      ],
    });
    guardduty.on(GetMemberDetectorsCommand).resolves({
      MemberDataSourceConfigurations: [{ AccountId: protectedId, Features: DEFAULT_FEATURES } as never],
      UnprocessedAccounts: [],
    });
    sqs.on(SendMessageBatchCommand).callsFake((input: { Entries: { Id: string }[] }) => ({
      Successful: input.Entries.map(({ Id }) => ({ Id, MessageId: Id, MD5OfMessageBody: "" })),
    }));
  });

  afterEach(() => {
    vi.restoreAllMocks();
  });

  it("enqueues one repair per (account, repair) and logs the coverage as one line of counts, never an e-mail", async () => {
    // Powertools writes INFO to stdout and WARN/ERROR to stderr.
    const stdout = vi.spyOn(process.stdout, "write").mockImplementation(() => true);
    const stderr = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    const logger = new Logger({ serviceName: "guardduty-onboarding", logLevel: "INFO" });

    const report = await reconcile(clients, loadReconcileConfig(ENV), logger, {
      correlationId: "schedule-1",
      now: () => new Date("2026-12-02T06:00:00Z"),
    });

    const lines = [...stdout.mock.calls, ...stderr.mock.calls].map((call) => String(call[0]));
    expect(report.enqueued).toEqual([`${invitedId}-accept`, `${missingId}-onboard`, `${disabledId}-verify`]);
    const request = { version: 1, attempt: 0, origin: "reconcile", correlationId: "schedule-1" };
    expect(sentBodies()).toEqual([
      {
        ...request,
        accountId: invitedId,
        regions: ["us-east-1", "eu-west-1"],
        step: "accept",
        requestedAt: "2026-12-02T06:00:00.000Z",
      },
      {
        ...request,
        accountId: missingId,
        regions: ["us-east-1", "eu-west-1"],
        requestedAt: "2026-12-02T06:00:00.000Z",
      },
      {
        ...request,
        accountId: disabledId,
        regions: ["us-east-1", "eu-west-1"],
        step: "verify",
        requestedAt: "2026-12-02T06:00:00.000Z",
      },
    ]);
    expect(lines.map((line) => JSON.parse(line))).toEqual([
      expect.objectContaining({
        level: "WARN",
        message: "reconcile coverage",
        coverage: 0.25,
        desired: 8,
        protected: 2,
        byVerdict: expect.objectContaining({
          protected: 2,
          "invited-not-accepted": 2,
          "not-a-member": 2,
          "monitoring-stopped": 2,
        }),
        accounts: 4,
        repairs: 3,
        enqueued: 3,
        notEnqueued: 0,
        correlationId: "schedule-1",
      }),
    ]);
    expect(lines.join("")).not.toContain("@");
  });

  it("publishes Coverage (0–1) overall and by region, CoveragePairs by verdict and DriftFound", async () => {
    const stdout = vi.spyOn(process.stdout, "write").mockImplementation(() => true);
    vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    const metrics = new PipelineMetrics(
      new Metrics({ namespace: "Test", serviceName: "guardduty-onboarding" }),
    );

    await reconcile(clients, loadReconcileConfig(ENV), new Logger({ serviceName: "guardduty-onboarding" }), {
      metrics,
    });

    const documents = stdout.mock.calls.map((call) => JSON.parse(String(call[0])) as Record<string, unknown>);
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

  it("leaves an invited member alone when the member side is off, and logs failed regions and unsent repairs", async () => {
    vi.spyOn(process.stdout, "write").mockImplementation(() => true);
    const stderr = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    guardduty.on(ListDetectorsCommand).rejectsOnce(new Error("socket hang up")).resolves({ DetectorIds: [] });

    const report = await reconcile(
      clients,
      loadReconcileConfig({ ...ENV, ACCEPT_INVITATIONS: "false" }),
      new Logger({ serviceName: "guardduty-onboarding" }),
    );

    const lines = stderr.mock.calls.map((call) => JSON.parse(String(call[0])) as Record<string, unknown>);
    expect(report.coverage.summary.byVerdict["no-administrator-detector"]).toBe(4);
    expect(report.requests).toEqual([]);
    expect(lines.map((line) => line.message)).toEqual([
      "GuardDuty is not enabled for the administrator in these regions: nothing can join there",
      "members could not be read; the region was left out of this run",
    ]);
  });

  it("enqueues nothing for an opt-in region an account has not enabled, and logs accounts whose opt-in it could not read", async () => {
    const stdout = vi.spyOn(process.stdout, "write").mockImplementation(() => true);
    const stderr = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    const account = mockClient(AccountClient);
    account.on(ListRegionsCommand).callsFake((input: { AccountId: string }) => {
      if (input.AccountId === disabledId) throw new Error("AccessDeniedException: no trusted access");
      return {
        Regions:
          input.AccountId === protectedId ? [{ RegionName: "af-south-1", RegionOptStatus: "ENABLED" }] : [],
      };
    });

    const report = await reconcile(
      clients,
      loadReconcileConfig({ ...ENV, GUARDDUTY_REGIONS: "af-south-1" }),
      new Logger({ serviceName: "guardduty-onboarding" }),
    );

    const lines = [...stdout.mock.calls, ...stderr.mock.calls].map(
      (call) => JSON.parse(String(call[0])) as Record<string, unknown>,
    );
    account.restore();
    expect(report.coverage.pairs.map(({ accountId, verdict }) => [accountId, verdict])).toEqual([
      [protectedId, "protected"],
      [invitedId, "region-not-enabled-for-account"],
      [missingId, "region-not-enabled-for-account"],
      [disabledId, "monitoring-stopped"],
    ]);
    expect(report.requests.map(({ accountId }) => accountId)).toEqual([disabledId]);
    expect(report.coverage.summary).toMatchObject({ desired: 2, protected: 1, ratio: 0.5 });
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

  it("logs a repair SQS did not confirm, naming the account", async () => {
    vi.spyOn(process.stdout, "write").mockImplementation(() => true);
    const stderr = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    sqs.on(SendMessageBatchCommand).resolves({
      Successful: [],
      Failed: [{ Id: "1", Code: "InternalError", SenderFault: false }],
    });

    const report = await reconcile(
      clients,
      loadReconcileConfig(ENV),
      new Logger({ serviceName: "guardduty-onboarding" }),
    );

    const lines = stderr.mock.calls.map((call) => JSON.parse(String(call[0])) as Record<string, unknown>);
    expect(Object.keys(report.failed)).toEqual([
      `${invitedId}-accept`,
      `${missingId}-onboard`,
      `${disabledId}-verify`,
    ]);
    expect(
      lines.filter((line) => line.message === "repair not enqueued; the next run enqueues it again"),
    ).toContainEqual(expect.objectContaining({ accountId: missingId }));
  });
});
