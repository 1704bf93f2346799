import { AccountClient, ListRegionsCommand } from "@aws-sdk/client-account";
import { CloudFormationClient, DescribeStacksCommand } from "@aws-sdk/client-cloudformation";
import {
  GetMemberDetectorsCommand,
  GetMembersCommand,
  GuardDutyClient,
  ListDetectorsCommand,
} from "@aws-sdk/client-guardduty";
import { ListAccountsCommand, OrganizationsClient } from "@aws-sdk/client-organizations";
import { ReceiveMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it } from "vitest";
import { run } from "../../cli/main.ts";
import { Progress } from "../../cli/output.ts";

/** The CLI in-process with the SDK mocked: argument checks, targets and the explanations of usual mistakes. */
const cloudformation = mockClient(CloudFormationClient);
const sqs = mockClient(SQSClient);

const DLQ_URL = "https://sqs.us-east-1.amazonaws.com/210987654321/guardduty-onboarding-prod-dead-letter";

async function cli(argv: string[], env: Record<string, string> = {}) {
  let stdout = "";
  let stderr = "";
  const code = await run(argv, {
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text) },
    env,
  });
  return { code, stdout, stderr };
}

const awsError = (name: string, message: string) =>
  Object.assign(new Error(message), { name, $metadata: {} });

beforeEach(() => {
  cloudformation.reset();
  sqs.reset();
  cloudformation.on(DescribeStacksCommand).resolves({
    Stacks: [
      {
        StackName: "guardduty-onboarding-prod",
        StackStatus: "UPDATE_COMPLETE",
        CreationTime: new Date(),
        Outputs: [
          { OutputKey: "OnboardingQueueUrl", OutputValue: DLQ_URL.replace("dead-letter", "onboarding") },
          { OutputKey: "RetryQueueUrl", OutputValue: DLQ_URL.replace("dead-letter", "retry") },
          { OutputKey: "DeadLetterQueueUrl", OutputValue: DLQ_URL },
          { OutputKey: "Regions", OutputValue: "us-east-1,eu-west-1" },
        ],
      },
    ],
  });
  sqs.on(ReceiveMessageCommand).resolves({ Messages: [] });
});

describe("gd-onboard", () => {
  it("says what each command does in its --help", async () => {
    for (const [argv, words] of [
      [["--help"], "dlq list"],
      [["dlq", "list", "--help"], "stay on the queue"],
      [["dlq", "replay", "--help"], "only once SQS has"],
      [["backfill", "--help"], "ListMembers"],
      [["status", "--help"], "GetMembers"],
      [["coverage", "--help"], "GetMemberDetectors"],
    ] as const) {
      const { code, stdout } = await cli([...argv]);

      expect(code).toBe(0);
      expect(stdout).toContain(words);
    }
  });

  it("reads a deployed stage's queues and regions from its stack's outputs", async () => {
    const { code, stdout } = await cli(["dlq", "list", "--stage", "prod"]);

    expect(code).toBe(0);
    expect(cloudformation.commandCalls(DescribeStacksCommand)[0]?.args[0].input).toEqual({
      StackName: "guardduty-onboarding-prod",
    });
    expect(sqs.commandCalls(ReceiveMessageCommand)[0]?.args[0].input).toMatchObject({ QueueUrl: DLQ_URL });
    expect(stdout).toContain("DeadLetterQueue of stage prod (us-east-1)");
    expect(stdout).toContain("0 message(s)");
  });

  it("explains a stage that is not deployed", async () => {
    cloudformation
      .on(DescribeStacksCommand)
      .rejects(awsError("ValidationError", "Stack with id guardduty-onboarding-prd does not exist"));

    const { code, stderr } = await cli(["dlq", "list", "--stage", "prd", "--region", "eu-west-1"]);

    expect(code).toBe(1);
    expect(stderr).toContain('stage "prd" is not deployed in eu-west-1: no stack guardduty-onboarding-prd');
    expect(stderr).toContain("Check --stage and --region");
  });

  it("explains missing credentials", async () => {
    cloudformation
      .on(DescribeStacksCommand)
      .rejects(awsError("CredentialsProviderError", "Could not load credentials from any providers"));

    const { code, stderr } = await cli(["status", "123456789012", "--stage", "prod"]);

    expect(code).toBe(1);
    expect(stderr).toContain("no AWS credentials: set AWS_PROFILE");
  });

  it("explains a queue that does not exist", async () => {
    sqs
      .on(ReceiveMessageCommand)
      .rejects(awsError("QueueDoesNotExist", "The specified queue does not exist."));

    const { code, stderr } = await cli(["dlq", "list", "--stage", "prod"]);

    expect(code).toBe(1);
    expect(stderr).toContain(`queue ${DLQ_URL} does not exist`);
  });

  it("rejects a malformed account id before calling AWS", async () => {
    const status = await cli(["status", "12345678901", "--stage", "prod"]);
    const replay = await cli(["dlq", "replay", "--account", "abc", "--stage", "prod"]);

    expect(status.code).toBe(2);
    expect(status.stderr).toContain(
      '"12345678901" is not an account id: AWS account ids are exactly 12 digits',
    );
    expect(replay.code).toBe(2);
    expect(replay.stderr).toContain('--account "abc" is not an account id');
    expect(cloudformation.commandCalls(DescribeStacksCommand)).toEqual([]);
  });

  it("asks for the sandbox's exports when --local has no local stack to talk to", async () => {
    const { code, stderr } = await cli(["dlq", "list", "--local"], { AWS_REGION: "us-east-1" });

    expect(code).toBe(1);
    expect(stderr).toContain("run `npm run sandbox` in another shell and paste its exports");
  });

  it("refuses regions the stage does not manage, and a command without a target", async () => {
    const unmanaged = await cli(["backfill", "--stage", "prod", "--regions", "eu-west-3"]);
    const untargeted = await cli(["dlq", "list"]);
    const mixed = await cli(["dlq", "replay", "--all", "--reason", "invalid-message", "--stage", "prod"]);

    expect(unmanaged).toMatchObject({
      code: 2,
      stderr: expect.stringContaining("eu-west-3 not managed by stage prod"),
    });
    expect(untargeted).toMatchObject({
      code: 2,
      stderr: expect.stringContaining("no target: pass --stage STAGE"),
    });
    expect(mixed).toMatchObject({ code: 2, stderr: expect.stringContaining("--all moves the whole queue") });
  });

  it("names an unknown command or option and where to look", async () => {
    const command = await cli(["dlq", "purge"]);
    const option = await cli(["backfill", "--region-list", "x"]);

    expect(command).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('unknown command "dlq purge"'),
    });
    expect(option).toMatchObject({
      code: 2,
      stderr: expect.stringContaining("see gd-onboard backfill --help"),
    });
  });
});

describe("progress", () => {
  const render = (isTTY: boolean) => {
    let text = "";
    const progress = new Progress({ write: (chunk: string) => (text += chunk), isTTY });
    progress.update("requests enqueued", 5, 20);
    progress.update("requests enqueued", 5, 20);
    progress.update("requests enqueued", 20, 20);
    progress.done();
    return text;
  };

  it("redraws a bar in place on a terminal", () => {
    expect(render(true)).toBe(
      "\r\x1b[2K[######------------------] requests enqueued 5/20".repeat(2) +
        "\r\x1b[2K[########################] requests enqueued 20/20\n",
    );
  });

  it("prints plain lines, each once, anywhere else", () => {
    expect(render(false)).toBe("requests enqueued 5/20\nrequests enqueued 20/20\n");
  });
});

describe("gd-onboard coverage", () => {
  const guardduty = mockClient(GuardDutyClient);
  const organizations = mockClient(OrganizationsClient);
  const sts = mockClient(STSClient);
  const [A, B] = ["600000000001", "600000000002"];

  beforeEach(() => {
    for (const mock of [guardduty, organizations, sts]) mock.reset();
    sts.on(GetCallerIdentityCommand).resolves({ Account: "210987654321" });
    organizations.on(ListAccountsCommand).resolves({
      Accounts: [
        { Id: "210987654321", State: "ACTIVE" },
        { Id: A, State: "ACTIVE" },
        { Id: B, State: "ACTIVE" },
      ],
    });
    guardduty.on(ListDetectorsCommand).resolves({ DetectorIds: ["det-1"] });
    guardduty.on(GetMembersCommand).resolves({
      Members: [
        { AccountId: A, RelationshipStatus: "Enabled" },
        { AccountId: B, RelationshipStatus: "Resigned" },
      ] as never,
    });
    guardduty.on(GetMemberDetectorsCommand).resolves({
      MemberDataSourceConfigurations: [
        { AccountId: A, Features: [{ Name: "S3_DATA_EVENTS", Status: "DISABLED" }] } as never,
      ],
      UnprocessedAccounts: [],
    });
  });

  it("prints the counts by verdict and region, the ratio and the pairs not protected, with progress on stderr", async () => {
    const { code, stdout, stderr } = await cli(["coverage", "--stage", "prod"]);

    expect(code).toBe(0);
    expect(stdout).toContain("Coverage of stage prod (us-east-1): 0.0000 — 0 of 4 desired");
    expect(stdout).toMatch(/plans-differ\s+1\s+1\s+2/);
    expect(stdout).toMatch(/resigned\s+1\s+1\s+2/);
    expect(stdout).toMatch(
      new RegExp(`${A}\\s+eu-west-1\\s+plans-differ\\s+S3_DATA_EVENTS is DISABLED, wanted ENABLED;`),
    );
    expect(stderr).toContain("regions read 2/2");
  });

  it("discovers a stage's regions when they are all, warns of a region that did not answer, and checks --regions against the partition's", async () => {
    // Prepare: the stage's Regions output is "all"; the administrator's account enabled three regions,
    // has its detector in us-east-1, none in ap-south-1, and eu-west-1 fails.
    const account = mockClient(AccountClient);
    cloudformation.on(DescribeStacksCommand).resolves({
      Stacks: [
        {
          StackName: "guardduty-onboarding-prod",
          StackStatus: "UPDATE_COMPLETE",
          CreationTime: new Date(),
          Outputs: [
            { OutputKey: "OnboardingQueueUrl", OutputValue: DLQ_URL.replace("dead-letter", "onboarding") },
            { OutputKey: "DeadLetterQueueUrl", OutputValue: DLQ_URL },
            { OutputKey: "Regions", OutputValue: "all" },
          ],
        },
      ],
    });
    account.on(ListRegionsCommand).resolves({
      Regions: ["ap-south-1", "eu-west-1", "us-east-1"].map((RegionName) => ({
        RegionName,
        RegionOptStatus: "ENABLED_BY_DEFAULT",
      })),
    });
    guardduty.on(ListDetectorsCommand).callsFake(async (_input, getClient) => {
      const region = await getClient().config.region();
      if (region === "eu-west-1") throw awsError("InternalServerErrorException", "try again");
      return { DetectorIds: region === "us-east-1" ? ["det-1"] : [] };
    });

    // Act
    const discovered = await cli(["coverage", "--stage", "prod", "--json"]);
    const named = await cli(["coverage", "--stage", "prod", "--json", "--regions", "ap-south-1"]);
    const foreign = await cli(["coverage", "--stage", "prod", "--regions", "cn-north-1"]);
    account.restore();

    // Assess: eu-west-1 stays in (unknown is not "no detector") and fails again; ap-south-1 is not managed.
    expect(discovered.code).toBe(1);
    expect(Object.keys(JSON.parse(discovered.stdout).byRegion)).toEqual(["eu-west-1", "us-east-1"]);
    expect(discovered.stderr).toContain("warning: eu-west-1: GuardDuty could not be asked");
    expect(Object.keys(JSON.parse(named.stdout).byRegion)).toEqual(["ap-south-1"]);
    expect(foreign).toMatchObject({ code: 2, stderr: expect.stringContaining("cn-north-1 not managed") });
  });

  it("writes one CSV row per pair of the verdicts asked for, and JSON with every count", async () => {
    const csv = await cli([
      "coverage",
      "--stage",
      "prod",
      "--csv",
      "--verdict",
      "resigned",
      "--regions",
      "eu-west-1",
    ]);
    const json = await cli(["coverage", "--stage", "prod", "--json"]);

    expect(csv.stdout.trim().split("\n")).toEqual([
      "accountId,region,verdict,detail",
      `${B},eu-west-1,resigned,Resigned`,
    ]);
    const report = JSON.parse(json.stdout) as Record<string, unknown>;
    expect(report).toMatchObject({ coverage: 0, desired: 4, protected: 0, accounts: 3, inactive: 0 });
    expect((report.byRegion as Record<string, Record<string, number>>)["us-east-1"]).toMatchObject({
      "plans-differ": 1,
      resigned: 1,
    });
    expect(report.pairs).toHaveLength(4);
  });

  it("refuses an unknown verdict and --json with --csv", async () => {
    const unknown = await cli(["coverage", "--stage", "prod", "--verdict", "invited"]);
    const both = await cli(["coverage", "--stage", "prod", "--json", "--csv"]);

    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('"invited" is not one of protected, not-a-member');
    expect(both.code).toBe(2);
  });
});
