import {
  AcceptAdministratorInvitationCommand,
  CreateDetectorCommand,
  GetAdministratorAccountCommand,
  GuardDutyClient,
  ListDetectorsCommand,
  ListInvitationsCommand,
} from "@aws-sdk/client-guardduty";
import { SendMessageBatchCommand, type SendMessageBatchRequestEntry, SQSClient } from "@aws-sdk/client-sqs";
import { AssumeRoleCommand, STSClient, STSServiceException } from "@aws-sdk/client-sts";
import type { SQSEvent, SQSRecord } from "aws-lambda";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, beforeEach, describe, expect, it, type MockInstance, vi } from "vitest";
import { onboardingRequest, organizationsEvent, sqsRecord } from "../support/events.ts";
import { lambdaContext } from "../support/lambda.ts";

const ACCEPT = "https://sqs.us-east-1.amazonaws.com/111111111111/accept";
const DLQ = "https://sqs.us-east-1.amazonaws.com/111111111111/dlq";
const RETRY = "https://sqs.us-east-1.amazonaws.com/111111111111/retry";
const ADMIN = "111111111111";
const MEMBER = "222222222222";
const REGIONS = ["us-east-1", "eu-west-1"];

const sts = mockClient(STSClient);
const guardduty = mockClient(GuardDutyClient);
const sqs = mockClient(SQSClient);
let stdout: MockInstance;
let stderr: MockInstance;

/** Loads the real accept handler module, with a fresh cold start, under the given stage configuration. */
async function handler(env: Record<string, string> = {}) {
  vi.resetModules();
  vi.stubEnv("GUARDDUTY_REGIONS", REGIONS.join(","));
  vi.stubEnv("ACCEPT_QUEUE_URL", ACCEPT);
  vi.stubEnv("RETRY_QUEUE_URL", RETRY);
  vi.stubEnv("DEAD_LETTER_QUEUE_URL", DLQ);
  vi.stubEnv("ADMINISTRATOR_ACCOUNT_ID", ADMIN);
  vi.stubEnv("MAX_ATTEMPTS", "4");
  vi.stubEnv("AWS_LAMBDA_FUNCTION_NAME", "guardduty-onboarding-test-accept");
  vi.stubEnv("POWERTOOLS_METRICS_NAMESPACE", "GuardDutyOnboardingTest");
  vi.stubEnv("AWS_REGION", "us-east-1");
  vi.stubEnv("AWS_ACCESS_KEY_ID", "test");
  vi.stubEnv("AWS_SECRET_ACCESS_KEY", "test");
  for (const [name, value] of Object.entries(env)) vi.stubEnv(name, value);
  const module = await import("../../functions/accept.ts");
  return (records: SQSRecord[]) => module.handler({ Records: records } satisfies SQSEvent, lambdaContext());
}

/** A request of the member side, as the onboard function hands it over. */
const acceptRequest = (accountId: string, fields: Record<string, unknown> = {}) =>
  onboardingRequest(accountId, { step: "accept", regions: REGIONS, correlationId: "evt-1", ...fields });
const sent = (queueUrl: string): SendMessageBatchRequestEntry[] =>
  sqs
    .commandCalls(SendMessageBatchCommand)
    .filter((call) => call.args[0].input.QueueUrl === queueUrl)
    .flatMap((call) => call.args[0].input.Entries ?? []);
const sentBodies = (queueUrl: string) => sent(queueUrl).map((entry) => JSON.parse(entry.MessageBody ?? ""));
const logLines = () =>
  [...stdout.mock.calls, ...stderr.mock.calls]
    .map((call) => String(call[0]))
    .filter((line) => !line.includes('"_aws"'))
    .map((line) => JSON.parse(line));

beforeEach(() => {
  sts.reset();
  guardduty.reset();
  sqs.reset();
  sts.on(AssumeRoleCommand).resolves({
    Credentials: {
      AccessKeyId: "ASIAMEMBER",
      SecretAccessKey: "s",
      SessionToken: "t",
      Expiration: new Date(Date.now() + 900_000),
    },
  });
  guardduty.on(ListDetectorsCommand).resolves({ DetectorIds: ["member-detector"] });
  guardduty.on(CreateDetectorCommand).resolves({ DetectorId: "member-detector" });
  guardduty
    .on(ListInvitationsCommand)
    .resolves({ Invitations: [{ AccountId: ADMIN, InvitationId: "inv-1" }] });
  guardduty.on(AcceptAdministratorInvitationCommand).resolves({});
  guardduty.on(GetAdministratorAccountCommand).resolves({});
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

describe("accept handler", () => {
  it("enables a member in every region of its request: one session, each invitation accepted, then one request back to the administrator side to verify its plans", async () => {
    const invoke = await handler();

    const result = await invoke([sqsRecord(acceptRequest(MEMBER))]);

    expect(result).toEqual({ batchItemFailures: [] });
    expect(sts.commandCalls(AssumeRoleCommand).map((call) => call.args[0].input.RoleArn)).toEqual([
      `arn:aws:iam::${MEMBER}:role/GuardDutyOnboardingMember`,
    ]);
    expect(guardduty.commandCalls(AcceptAdministratorInvitationCommand)).toHaveLength(2);
    expect(sent(ACCEPT)).toEqual([]);
    expect(sent(RETRY).map((entry) => JSON.parse(entry.MessageBody ?? ""))).toEqual([
      expect.objectContaining({ accountId: MEMBER, step: "verify", attempt: 0, regions: REGIONS }),
    ]);
    const outcomes = logLines().filter((line) => line.message === "account outcome");
    expect(outcomes.map((line) => [line.region, line.outcome])).toEqual([
      ["us-east-1", "enabled"],
      ["eu-west-1", "enabled"],
    ]);
  });

  it("sends a retryable member-side failure back onto the accept queue with a delay, attempt + 1 and step accept", async () => {
    guardduty.on(ListInvitationsCommand).resolves({ Invitations: [] });
    const invoke = await handler();

    const result = await invoke([sqsRecord(acceptRequest(MEMBER, { attempt: 1 }))]);

    expect(result).toEqual({ batchItemFailures: [] });
    expect(sent(DLQ)).toEqual([]);
    const [retry, ...others] = sent(ACCEPT);
    expect(others).toEqual([]);
    expect(retry?.DelaySeconds).toBeGreaterThan(0);
    expect(retry?.DelaySeconds).toBeLessThanOrEqual(900);
    expect(JSON.parse(retry?.MessageBody ?? "")).toMatchObject({
      accountId: MEMBER,
      attempt: 2,
      origin: "retry",
      step: "accept",
      regions: REGIONS,
      correlationId: "evt-1",
      lastError: { reason: "invitation-not-found", region: "us-east-1" },
    });
  });

  it("dead-letters a member whose role cannot be assumed, one letter per region, each resuming at acceptance", async () => {
    sts.on(AssumeRoleCommand).rejects(
      new STSServiceException({
        name: "AccessDenied",
        $fault: "client",
        message: `User: arn:aws:sts::${ADMIN}:assumed-role/accept is not authorized to perform: sts:AssumeRole`,
        $metadata: { httpStatusCode: 403 },
      }),
    );
    const invoke = await handler();

    const result = await invoke([sqsRecord(acceptRequest(MEMBER))]);

    expect(result).toEqual({ batchItemFailures: [] });
    expect(sent(ACCEPT)).toEqual([]);
    expect(sentBodies(DLQ)).toEqual(
      REGIONS.map((region) =>
        expect.objectContaining({
          reason: "member-role-not-assumable",
          accountId: MEMBER,
          region,
          request: expect.objectContaining({ regions: [region], step: "accept" }),
        }),
      ),
    );
    expect(guardduty.commandCalls(AcceptAdministratorInvitationCommand)).toHaveLength(0);
  });

  it("dead-letters retries-exhausted, resuming at acceptance, once the member side has spent its attempts", async () => {
    guardduty.on(ListInvitationsCommand).resolves({ Invitations: [] });
    const invoke = await handler({ GUARDDUTY_REGIONS: "eu-west-1" });

    await invoke([sqsRecord(acceptRequest(MEMBER, { attempt: 3, regions: ["eu-west-1"] }))]);

    expect(sent(ACCEPT)).toEqual([]);
    expect(sentBodies(DLQ)).toEqual([
      expect.objectContaining({
        reason: "retries-exhausted",
        region: "eu-west-1",
        request: expect.objectContaining({ step: "accept" }),
      }),
    ]);
  });

  it("dead-letters an account-created event, which is no accept request, as invalid-message verbatim", async () => {
    const body = JSON.stringify(organizationsEvent(MEMBER));
    const invoke = await handler();

    const result = await invoke([sqsRecord(body)]);

    expect(result).toEqual({ batchItemFailures: [] });
    expect(sentBodies(DLQ)).toEqual([
      expect.objectContaining({
        reason: "invalid-message",
        detail: "not a request to accept an invitation",
        raw: body,
      }),
    ]);
    expect(sts.commandCalls(AssumeRoleCommand)).toHaveLength(0);
  });

  it("reports as batch item failures only the records whose sends were not confirmed", async () => {
    guardduty.on(ListInvitationsCommand).resolves({ Invitations: [] });
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
      sqsRecord(acceptRequest(MEMBER, { correlationId: "unlucky" }), "retried-unconfirmed"),
      sqsRecord(acceptRequest("333333333333"), "retried"),
      sqsRecord("unlucky garbage", "dead-lettered-unconfirmed"),
      sqsRecord("garbage", "dead-lettered"),
    ]);

    expect(result.batchItemFailures.map((failure) => failure.itemIdentifier).sort()).toEqual([
      "dead-lettered-unconfirmed",
      "retried-unconfirmed",
    ]);
  });
});
