import { Logger } from "@aws-lambda-powertools/logger";
import { Metrics } from "@aws-lambda-powertools/metrics";
import { GuardDutyClient, ListDetectorsCommand, ListMembersCommand } from "@aws-sdk/client-guardduty";
import { ListAccountsCommand, OrganizationsClient } from "@aws-sdk/client-organizations";
import { SendMessageBatchCommand, SQSClient } from "@aws-sdk/client-sqs";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ConfigError } from "#shared/errors";
import { PipelineMetrics } from "#shared/metrics";
import { loadReconcileConfig, reconcile } from "#shared/reconcile";
import { accountIds } from "../support/events.ts";

const ENV = {
  GUARDDUTY_REGIONS: "us-east-1,eu-west-1",
  ONBOARDING_QUEUE_URL: "https://sqs.us-east-1.amazonaws.com/210987654321/onboarding",
  RETRY_QUEUE_URL: "https://sqs.us-east-1.amazonaws.com/210987654321/retry",
  DEAD_LETTER_QUEUE_URL: "https://sqs.us-east-1.amazonaws.com/210987654321/dead-letter",
  ADMINISTRATOR_ACCOUNT_ID: "210987654321",
};

describe("loadReconcileConfig", () => {
  it("reads the regions, the onboarding queue and the administrator", () => {
    expect(loadReconcileConfig(ENV)).toMatchObject({
      regions: ["us-east-1", "eu-west-1"],
      onboardingQueueUrl: ENV.ONBOARDING_QUEUE_URL,
      administratorAccountId: "210987654321",
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
    guardduty: (region: string) => new GuardDutyClient({ region }),
    sqs: new SQSClient({ region: "us-east-1" }),
  };
  const ids = accountIds(3, 600000000000);
  const member = { MasterId: "210987654321", Email: "owner@example.com", UpdatedAt: "2026-11-26T05:00:00Z" };

  beforeEach(() => {
    for (const mock of [organizations, guardduty, sqs]) mock.reset();
    organizations.on(ListAccountsCommand).resolves({
      Accounts: ids.map((Id) => ({ Id, State: "ACTIVE", Email: `owner+${Id}@example.com` })),
    });
    guardduty.on(ListDetectorsCommand).resolves({ DetectorIds: ["det-1"] });
    guardduty.on(ListMembersCommand).resolves({
      Members: [{ ...member, AccountId: ids[0] as string, RelationshipStatus: "Enabled" }],
    });
    sqs.on(SendMessageBatchCommand).callsFake((input: { Entries: { Id: string }[] }) => ({
      Successful: input.Entries.map(({ Id }) => ({ Id, MessageId: Id, MD5OfMessageBody: "" })),
    }));
  });

  afterEach(() => {
    vi.restoreAllMocks();
  });

  it("logs the drift it found as one line of counts, never an e-mail address", async () => {
    // Powertools writes INFO to stdout and WARN/ERROR to stderr.
    const stdout = vi.spyOn(process.stdout, "write").mockImplementation(() => true);
    const stderr = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    const logger = new Logger({ serviceName: "guardduty-onboarding", logLevel: "INFO" });

    const report = await reconcile(clients, loadReconcileConfig(ENV), logger, {
      correlationId: "schedule-1",
    });

    const lines = [...stdout.mock.calls, ...stderr.mock.calls].map((call) => String(call[0]));
    expect(report.enqueued).toEqual([ids[1], ids[2]]);
    expect(lines.map((line) => JSON.parse(line))).toEqual([
      expect.objectContaining({
        level: "WARN",
        message: "reconcile drift",
        accounts: 3,
        missing: 4,
        missingByStatus: { "not-a-member": 4 },
        accountsToOnboard: 2,
        enqueued: 2,
        notEnqueued: 0,
        correlationId: "schedule-1",
      }),
    ]);
    expect(lines.join("")).not.toContain("@");
  });

  it("publishes the drift as the DriftFound metric", async () => {
    const stdout = vi.spyOn(process.stdout, "write").mockImplementation(() => true);
    vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    const metrics = new PipelineMetrics(
      new Metrics({ namespace: "Test", serviceName: "guardduty-onboarding" }),
    );

    await reconcile(clients, loadReconcileConfig(ENV), new Logger({ serviceName: "guardduty-onboarding" }), {
      metrics,
    });

    const documents = stdout.mock.calls.map((call) => JSON.parse(String(call[0])) as Record<string, unknown>);
    expect(documents).toContainEqual(
      expect.objectContaining({ service: "guardduty-onboarding", DriftFound: 4 }),
    );
  });
});
