import { execFile } from "node:child_process";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { DeleteMessageCommand, ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLocalStack } from "../../local/local-stack.ts";
import { type IsolatedPackage, packageIsolated } from "../support/isolated-package.ts";
import { lambdaContext } from "../support/lambda.ts";

/**
 * The reconcile function as packaged: scheduled by the stage parameter, allowed exactly what it calls,
 * and its bundle runs against the local stack.
 */
let packaged: IsolatedPackage;
const savedEnv = { ...process.env };
const resources = () => packaged.template.Resources;
const props = (name: string) => resources()[name]?.Properties ?? {};

beforeAll(async () => {
  packaged = await packageIsolated(["--stage", "test", "--param", "regions=us-east-1,eu-west-1"]);
}, 180_000);

afterAll(() => {
  for (const name of Object.keys(process.env)) if (!(name in savedEnv)) delete process.env[name];
  Object.assign(process.env, savedEnv);
});

describe("packaged reconcile function", () => {
  it("runs daily by default, with the onboarding queue, the stage's regions, profile, mode and member side in its environment", () => {
    const fn = props("ReconcileLambdaFunction");
    const rules = Object.values(resources()).filter(
      (resource) =>
        resource.Type === "AWS::Events::Rule" &&
        JSON.stringify(resource.Properties.Targets).includes("ReconcileLambdaFunction"),
    );

    expect(fn.Handler).toBe("functions/reconcile.handler");
    expect(rules.map((rule) => rule.Properties.ScheduleExpression)).toEqual(["rate(1 day)"]);
    expect((fn.Environment as { Variables: Record<string, unknown> }).Variables).toMatchObject({
      GUARDDUTY_REGIONS: "us-east-1,eu-west-1",
      ONBOARDING_QUEUE_URL: { Ref: "OnboardingQueue" },
      ADMINISTRATOR_ACCOUNT_ID: { Ref: "AWS::AccountId" },
      // What its verdicts and repairs depend on (shared/reconcile.ts): the profile, the mode, the member side.
      PROTECTION_PLANS: "",
      MEMBERSHIP_MODE: "invitation",
      ACCEPT_INVITATIONS: "true",
    });
  });

  it("runs its units from a queue of its own: one a batch, partial batch failures, visibility ≥ 6 × timeout, redrive to the DLQ", () => {
    const mappings = Object.values(resources()).filter(
      (resource) =>
        resource.Type === "AWS::Lambda::EventSourceMapping" &&
        JSON.stringify(resource.Properties.FunctionName).includes("ReconcileLambdaFunction"),
    );
    const queue = props("ReconcileQueue") as {
      VisibilityTimeout: number;
      SqsManagedSseEnabled: boolean;
      RedrivePolicy: { deadLetterTargetArn: unknown; maxReceiveCount: number };
    };

    expect(mappings.map((mapping) => mapping.Properties)).toEqual([
      expect.objectContaining({
        EventSourceArn: { "Fn::GetAtt": ["ReconcileQueue", "Arn"] },
        BatchSize: 1,
        FunctionResponseTypes: ["ReportBatchItemFailures"],
      }),
    ]);
    expect(queue.VisibilityTimeout).toBeGreaterThanOrEqual(
      6 * Number(props("ReconcileLambdaFunction").Timeout),
    );
    expect(queue.SqsManagedSseEnabled).toBe(true);
    expect(queue.RedrivePolicy).toEqual({
      deadLetterTargetArn: { "Fn::GetAtt": ["DeadLetterQueue", "Arn"] },
      maxReceiveCount: 5,
    });
  });

  it("runs with a role of its own, not the onboard function's (what it may do: test/config/iam.test.ts)", () => {
    expect(props("ReconcileLambdaFunction").Role).toEqual({ "Fn::GetAtt": ["ReconcileRole", "Arn"] });
    expect(props("OnboardLambdaFunction").Role).toEqual({ "Fn::GetAtt": ["OnboardRole", "Arn"] });
    expect(resources().IamRoleLambdaExecution).toBeUndefined();
  });

  it("loads as ESM, runs a reconcile unit by unit, and enqueues the organization's missing accounts from the local stack", async () => {
    // Prepare: the artifact AWS would run, and a local stack with one organization account to onboard.
    const artifactDir = join(packaged.dir, "artifact");
    await promisify(execFile)("python3", [
      "-m",
      "zipfile",
      "-e",
      join(packaged.dir, "guardduty-onboarding.zip"),
      artifactDir,
    ]);
    const local = await startLocalStack({
      regions: ["us-east-1"],
      withoutFunction: true,
      sandbox: { seed: 3, accountCount: 0, accounts: [{ id: "520000000001" }] },
    });
    try {
      Object.assign(process.env, local.roleEnv("reconcile"), { POWERTOOLS_LOG_LEVEL: "SILENT" });
      const artifact = pathToFileURL(join(artifactDir, "functions", "reconcile.mjs")).href;

      // Act: the schedule starts the run; its units are taken off ReconcileQueue and handed to the
      // artifact as Lambda's SQS event source would, until the queue is empty.
      const { handler } = await import(/* @vite-ignore */ artifact);
      await handler(
        { id: "schedule-1", "detail-type": "Scheduled Event", source: "aws.events" },
        lambdaContext(),
      );
      const kinds: string[] = [];
      for (;;) {
        const { Messages = [] } = await local.sqs.client.send(
          new ReceiveMessageCommand({ QueueUrl: local.sqs.urls.ReconcileQueue, MaxNumberOfMessages: 1 }),
        );
        const [message] = Messages;
        if (!message) break;
        kinds.push(JSON.parse(message.Body ?? "").kind);
        const result = await handler(
          { Records: [{ messageId: message.MessageId, body: message.Body, attributes: {} }] },
          lambdaContext(),
        );
        expect(result).toEqual({ batchItemFailures: [] });
        await local.sqs.client.send(
          new DeleteMessageCommand({
            QueueUrl: local.sqs.urls.ReconcileQueue,
            ReceiptHandle: message.ReceiptHandle,
          }),
        );
      }
      expect(kinds).toEqual(["accounts", "pairs", "members"]);

      // Assess: the management account and the workload account, never the administrator.
      const { Messages = [] } = await local.sqs.client.send(
        new ReceiveMessageCommand({ QueueUrl: local.sqs.urls.OnboardingQueue, MaxNumberOfMessages: 10 }),
      );
      expect(Messages.map((message) => JSON.parse(message.Body ?? "").accountId).sort()).toEqual([
        local.sandbox.managementAccountId,
        "520000000001",
      ]);
    } finally {
      await local.stop();
    }
  });
});
