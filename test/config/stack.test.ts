import { readdir, readFile } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { CreateQueueCommand, ReceiveMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { createSqsServer } from "local-aws-sqs";
import { beforeAll, describe, expect, it } from "vitest";
import { organizationsEvent, sqsRecord } from "../support/events.ts";
import { lambdaContext } from "../support/lambda.ts";
import { type Packaged, packageStack } from "../support/package.ts";

/**
 * The stack definition is itself tested: `serverless package` runs offline, and the packaged
 * CloudFormation template and Lambda artifact are checked for the invariants the pipeline relies on.
 */
let packaged: Packaged;
const resources = () => packaged.template.Resources;
const ofType = (type: string) => Object.entries(resources()).filter(([, resource]) => resource.Type === type);
const props = (name: string) => resources()[name]?.Properties ?? {};

beforeAll(async () => {
  packaged = await packageStack(["--stage", "test", "--param", "regions=us-east-1,eu-west-1"]);
}, 180_000);

describe("packaged stack", () => {
  it("has the standard queues, the member side's and the reconcile's, every one encrypted with SQS-managed keys", () => {
    const queues = ofType("AWS::SQS::Queue").map(([name]) => name);

    expect(queues.sort()).toEqual([
      "AcceptQueue",
      "DeadLetterQueue",
      "OnboardingQueue",
      "ReconcileQueue",
      "RetryQueue",
    ]);
    for (const name of queues) {
      expect(props(name).SqsManagedSseEnabled).toBe(true);
      expect(props(name).FifoQueue).toBeUndefined();
    }
  });

  it("keeps dead letters 14 days and redrives every source queue to the DLQ after ≥ 5 receives", () => {
    expect(props("DeadLetterQueue").MessageRetentionPeriod).toBe(14 * 24 * 3600);
    for (const name of ["OnboardingQueue", "RetryQueue", "AcceptQueue", "ReconcileQueue"]) {
      expect(props(name).RedrivePolicy).toEqual({
        deadLetterTargetArn: { "Fn::GetAtt": ["DeadLetterQueue", "Arn"] },
        maxReceiveCount: expect.any(Number),
      });
      expect(
        (props(name).RedrivePolicy as { maxReceiveCount: number }).maxReceiveCount,
      ).toBeGreaterThanOrEqual(5);
    }
  });

  /** Each event source mapping: its queue, its function, and its settings. */
  const mappings = () =>
    ofType("AWS::Lambda::EventSourceMapping").map(([, { Properties: mapping }]) => ({
      queue: (mapping.EventSourceArn as { "Fn::GetAtt": string[] })["Fn::GetAtt"][0] as string,
      fn: (mapping.FunctionName as { "Fn::GetAtt": string[] })["Fn::GetAtt"][0] as string,
      mapping,
    }));

  it("sets each source queue's visibility timeout to at least 6 × its function's timeout", () => {
    expect(mappings()).toHaveLength(4);
    for (const { queue, fn } of mappings()) {
      expect(props(queue).VisibilityTimeout, queue).toBeGreaterThanOrEqual(6 * (props(fn).Timeout as number));
    }
  });

  it("maps the onboarding and retry queues to onboard with partial batch responses, coalescing and bounded concurrency", () => {
    const onboard = mappings().filter(({ fn }) => fn === "OnboardLambdaFunction");

    expect(onboard.map(({ queue }) => queue).sort()).toEqual(["OnboardingQueue", "RetryQueue"]);
    for (const { mapping } of onboard) {
      expect(mapping.FunctionResponseTypes).toEqual(["ReportBatchItemFailures"]);
      // Two full 50-account GuardDuty calls per batch; above 10 records SQS needs a batching window ≥ 1 s.
      expect(mapping.BatchSize).toBeGreaterThanOrEqual(50);
      expect(mapping.MaximumBatchingWindowInSeconds).toBeGreaterThanOrEqual(1);
      expect(mapping.ScalingConfig).toEqual({ MaximumConcurrency: expect.any(Number) });
    }
  });

  it("maps the accept queue to accept: partial batch responses, no window to wait, more concurrency than onboard", () => {
    const [accept] = mappings().filter(({ fn }) => fn === "AcceptLambdaFunction");
    const [onboard] = mappings().filter(({ fn }) => fn === "OnboardLambdaFunction");
    const concurrency = (entry: typeof accept) =>
      (entry?.mapping.ScalingConfig as { MaximumConcurrency?: number } | undefined)?.MaximumConcurrency ?? 0;

    expect(accept?.queue).toBe("AcceptQueue");
    expect(accept?.mapping.FunctionResponseTypes).toEqual(["ReportBatchItemFailures"]);
    // Above 10 records a window ≥ 1 s would be needed; 10 accounts a batch are entered at once.
    expect(accept?.mapping.BatchSize).toBeLessThanOrEqual(10);
    expect(accept?.mapping.MaximumBatchingWindowInSeconds ?? 0).toBe(0);
    expect(concurrency(accept)).toBeGreaterThan(concurrency(onboard));
  });

  it("keeps its tables encrypted, billed per request, their items expiring (TTL expiresAt)", () => {
    const tables = ofType("AWS::DynamoDB::Table").map(([name]) => name);

    expect(tables.sort()).toEqual(["AccountDirectoryTable", "DeadLetterIndexTable", "ReconcileRunsTable"]);
    for (const name of tables) {
      expect(props(name)).toMatchObject({
        BillingMode: "PAY_PER_REQUEST",
        SSESpecification: { SSEEnabled: true },
        TimeToLiveSpecification: { AttributeName: "expiresAt", Enabled: true },
      });
    }
  });

  it("runs the function on nodejs22.x with the stage parameters in its environment", () => {
    const fn = props("OnboardLambdaFunction");
    const variables = (fn.Environment as { Variables: Record<string, unknown> }).Variables;

    expect(fn.Runtime).toBe("nodejs22.x");
    expect(variables).toMatchObject({
      GUARDDUTY_REGIONS: "us-east-1,eu-west-1",
      MEMBERSHIP_MODE: "invitation",
      DISABLE_EMAIL_NOTIFICATION: "true",
      MAX_ATTEMPTS: expect.any(String),
      RETRY_QUEUE_URL: { Ref: "RetryQueue" },
      DEAD_LETTER_QUEUE_URL: { Ref: "DeadLetterQueue" },
    });
  });

  it("routes account-creation (SUCCEEDED), lifecycle and tamper events to the onboarding queue", () => {
    // Rules with an event pattern (the reconcile schedule has none).
    const rules = ofType("AWS::Events::Rule")
      .map(([, resource]) => resource.Properties)
      .filter((rule) => rule.EventPattern !== undefined);
    const patterns = rules.map(
      (rule) => rule.EventPattern as { source: string[]; detail: { eventName: string[] } },
    );

    expect(patterns.map((pattern) => [pattern.source[0], pattern.detail.eventName[0]]).sort()).toEqual([
      ["aws.controltower", "CreateManagedAccount"],
      ["aws.guardduty", "DisassociateFromAdministratorAccount"],
      ["aws.organizations", "AcceptHandshake"],
      ["aws.organizations", "CloseAccountResult"],
      ["aws.organizations", "CreateAccountResult"],
    ]);
    expect(JSON.stringify(patterns)).toContain('"state":["SUCCEEDED"]');
    for (const rule of rules) {
      expect(rule.Targets).toEqual([
        expect.objectContaining({ Arn: { "Fn::GetAtt": ["OnboardingQueue", "Arn"] } }),
      ]);
    }
  });

  it("lets only the project's rules send to the onboarding queue, and only over TLS", () => {
    const policy = props("OnboardingQueuePolicy").PolicyDocument as { Statement: Record<string, unknown>[] };
    const allow = policy.Statement.find((statement) => statement.Effect === "Allow");
    const deny = policy.Statement.find((statement) => statement.Effect === "Deny");

    expect(allow).toMatchObject({
      Principal: { Service: "events.amazonaws.com" },
      Action: "sqs:SendMessage",
      Condition: {
        ArnEquals: {
          "aws:SourceArn": [
            { "Fn::GetAtt": ["OrganizationsAccountCreatedRule", "Arn"] },
            { "Fn::GetAtt": ["ControlTowerAccountCreatedRule", "Arn"] },
            { "Fn::GetAtt": ["OrganizationsAccountJoinedRule", "Arn"] },
            { "Fn::GetAtt": ["OrganizationsAccountDepartedRule", "Arn"] },
            { "Fn::GetAtt": ["GuardDutyTamperSignalRule", "Arn"] },
          ],
        },
      },
    });
    expect(deny).toMatchObject({ Condition: { Bool: { "aws:SecureTransport": "false" } } });
  });

  it("gives each function a role of its own that only Lambda, in this account, may assume", () => {
    const functions = ofType("AWS::Lambda::Function").map(([, resource]) => resource.Properties.Role);
    const roles = ofType("AWS::IAM::Role");

    expect(new Set(functions.map((role) => JSON.stringify(role))).size).toBe(functions.length);
    expect(roles.map(([name]) => name).sort()).toEqual(["AcceptRole", "OnboardRole", "ReconcileRole"]);
    for (const [, role] of roles) {
      expect(role.Properties.AssumeRolePolicyDocument).toEqual({
        Version: "2012-10-17",
        Statement: [
          {
            Effect: "Allow",
            Principal: { Service: "lambda.amazonaws.com" },
            Action: "sts:AssumeRole",
            Condition: { StringEquals: { "aws:SourceAccount": { Ref: "AWS::AccountId" } } },
          },
        ],
      });
      // IAM role names are at most 64 characters.
      expect(String(role.Properties.RoleName).length).toBeLessThanOrEqual(64);
    }
  });

  it("discovers no regions with a list of them: the own-account ListRegions exists only under regions all", () => {
    expect(packaged.template.Conditions?.ManagesAllRegions).toEqual({
      "Fn::Equals": ["us-east-1,eu-west-1", "all"],
    });
    const discovery = JSON.stringify(resources()).match(
      /"Fn::If":\["ManagesAllRegions",\{"Sid":"DiscoverEnabledRegions"/g,
    );
    // onboard, reconcile, the operator; never accept, which discovers nothing.
    expect(discovery).toHaveLength(3);
    expect(JSON.stringify(props("AcceptRole"))).not.toContain("account:ListRegions");
  });
});

describe("packaged Lambda artifact", () => {
  it("holds no AGPL code: the IAM evaluator the sandbox uses never reaches the function", async () => {
    const files = await readdir(packaged.artifactDir, { recursive: true });
    const sources = files.filter((file) => /\.(m?js|cjs|json)$/.test(file));

    expect(sources.length).toBeGreaterThan(0);
    for (const file of sources) {
      const text = await readFile(join(packaged.artifactDir, file), "utf8");
      // The evaluator's own package names, and the strings its license and sources carry.
      expect(text, file).not.toMatch(
        /@cloud-copilot|iam-simulate|GNU AFFERO GENERAL PUBLIC LICENSE|AGPL-3\.0/,
      );
    }
  });

  it("loads as ESM and its handler dead-letters a malformed body through a real SQS server", async () => {
    // Prepare: a real SQS-protocol server and the two queues the handler writes to.
    const server = await createSqsServer({ port: 0, hostname: "127.0.0.1" });
    try {
      const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const sqs = new SQSClient({
        endpoint,
        region: "us-east-1",
        credentials: { accessKeyId: "k", secretAccessKey: "s" },
      });
      const retry = await sqs.send(new CreateQueueCommand({ QueueName: "retry" }));
      const dlq = await sqs.send(new CreateQueueCommand({ QueueName: "dead-letter" }));
      const accept = await sqs.send(new CreateQueueCommand({ QueueName: "accept" }));
      Object.assign(process.env, {
        AWS_ENDPOINT_URL_SQS: endpoint,
        AWS_REGION: "us-east-1",
        AWS_ACCESS_KEY_ID: "k",
        AWS_SECRET_ACCESS_KEY: "s",
        GUARDDUTY_REGIONS: "us-east-1",
        ADMINISTRATOR_ACCOUNT_ID: "111111111111",
        RETRY_QUEUE_URL: retry.QueueUrl,
        DEAD_LETTER_QUEUE_URL: dlq.QueueUrl,
        ACCEPT_QUEUE_URL: accept.QueueUrl,
        POWERTOOLS_LOG_LEVEL: "SILENT",
      });
      const artifact = pathToFileURL(join(packaged.artifactDir, "functions", "onboard.mjs")).href;

      // Act: the bundle AWS would run, with a malformed body beside a FAILED creation event.
      const { handler } = await import(/* @vite-ignore */ artifact);
      const result = await handler(
        {
          Records: [
            sqsRecord("not json at all", "bad"),
            sqsRecord(organizationsEvent(undefined, { state: "FAILED" })),
          ],
        },
        lambdaContext(),
      );

      // Assess
      expect(result).toEqual({ batchItemFailures: [] });
      const received = await sqs.send(
        new ReceiveMessageCommand({ QueueUrl: dlq.QueueUrl, MaxNumberOfMessages: 10 }),
      );
      expect(received.Messages?.map((message) => JSON.parse(message.Body ?? ""))).toEqual([
        expect.objectContaining({ reason: "invalid-message", raw: "not json at all" }),
      ]);
    } finally {
      server.close();
    }
  });
});
