import { execFile } from "node:child_process";
import { promisify } from "node:util";
import {
  CreateDetectorCommand,
  CreateMembersCommand,
  GuardDutyClient,
  InviteMembersCommand,
  ListDetectorsCommand,
} from "@aws-sdk/client-guardduty";
import { ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import { afterEach, describe, expect, it } from "vitest";
import type { DeadLetterBody } from "#shared/dead-letter";
import { run } from "../../cli/main.ts";
import { accountCreatedEvent, publish } from "../../local/inputs.ts";
import { type LocalStack, type LocalStackOptions, startLocalStack } from "../../local/local-stack.ts";
import { runReconcile } from "../../local/reconcile.ts";
import { peekDeadLetters } from "../../local/summary.ts";
import { ADMINISTRATOR_ACCESS_KEY_ID } from "../../sandbox/identity.ts";

/**
 * The operator's tooling against the local stack: `gd-onboard` in-process (and once as the real
 * executable), the real SQS server, the GuardDuty + Organizations sandbox, and — where the outcome is
 * a member — the onboard function on the queues.
 */
const REGIONS = ["us-east-1", "eu-west-1"];
const ONBOARDED = ["Invited", "Enabled"];
const [A, B, C, D] = ["510000000001", "510000000002", "510000000003", "510000000004"];
let local: LocalStack | undefined;
const savedEnv = { ...process.env };

async function start(options: Partial<LocalStackOptions> & { accounts: string[] }): Promise<LocalStack> {
  local = await startLocalStack({
    regions: REGIONS,
    withoutFunction: true,
    eventSourceSettings: { maximumBatchingWindowSeconds: 1 },
    // The member-side step (accepting the invitation) is not what these tests are about.
    params: { acceptInvitations: "false" },
    ...options,
    sandbox: {
      seed: 5,
      accountCount: 0,
      accounts: options.accounts.map((id) => ({ id })),
      ...options.sandbox,
    },
  });
  return local;
}

afterEach(async () => {
  await local?.stop();
  local = undefined;
  for (const name of Object.keys(process.env)) if (!(name in savedEnv)) delete process.env[name];
  Object.assign(process.env, savedEnv);
});

/** `gd-onboard …` in-process, with the environment `npm run sandbox` prints for this stack. */
async function cli(stack: LocalStack, ...argv: string[]) {
  let stdout = "";
  let stderr = "";
  const code = await run(argv, {
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text) },
    env: stack.env,
  });
  return { code, stdout, stderr };
}

async function listJson(stack: LocalStack): Promise<Record<string, unknown>[]> {
  const { code, stdout } = await cli(stack, "dlq", "list", "--local", "--json");
  expect(code).toBe(0);
  return JSON.parse(stdout) as Record<string, unknown>[];
}

/** Every body on a queue (received with a long visibility timeout: the queue is not consumed twice). */
async function bodies(stack: LocalStack, queue: string): Promise<Record<string, unknown>[]> {
  const found: Record<string, unknown>[] = [];
  for (;;) {
    const { Messages = [] } = await stack.sqs.client.send(
      new ReceiveMessageCommand({
        QueueUrl: stack.sqs.urls[queue],
        MaxNumberOfMessages: 10,
        VisibilityTimeout: 300,
      }),
    );
    if (Messages.length === 0) return found;
    found.push(...Messages.map((message) => JSON.parse(message.Body ?? "") as Record<string, unknown>));
  }
}

/** What is left on the DLQ at the end of a test (read, not given back: a quicker read than `dlq list`). */
const deadLetters = (stack: LocalStack) =>
  peekDeadLetters(stack.sqs.client, stack.sqs.urls.DeadLetterQueue as string);

/** Lets SQS itself redrive a body to the DLQ: received maxReceiveCount (5) times and never deleted. */
async function redriveBySqs(stack: LocalStack, body: string): Promise<void> {
  await publish(stack.sqs.client, stack.sqs.urls.OnboardingQueue as string, [body]);
  for (let receive = 0; receive < 6; receive++) {
    await stack.sqs.client.send(
      new ReceiveMessageCommand({ QueueUrl: stack.sqs.urls.OnboardingQueue, VisibilityTimeout: 0 }),
    );
  }
}

function deadLetter(accountId: string, region: string, reason: string): string {
  const body: DeadLetterBody = {
    reason,
    detail: `${reason} (test)`,
    accountId,
    region,
    at: new Date().toISOString(),
    attempt: 0,
    correlationId: `evt-${accountId}`,
    request: {
      version: 1,
      accountId,
      regions: [region],
      attempt: 0,
      origin: "event",
      correlationId: `evt-${accountId}`,
    },
  };
  return JSON.stringify(body);
}

function guardduty(stack: LocalStack, region: string): GuardDutyClient {
  return new GuardDutyClient({
    region,
    endpoint: stack.sandbox.url,
    // The administrator account's break-glass user: the test plays the people around the pipeline.
    credentials: { accessKeyId: ADMINISTRATOR_ACCESS_KEY_ID, secretAccessKey: "local" },
  });
}

/** The administrator's CreateMembers (and InviteMembers) straight to the sandbox, without the pipeline. */
async function makeMembers(
  stack: LocalStack,
  regions: string[],
  ids: string[],
  invite: boolean,
): Promise<void> {
  for (const region of regions) {
    const client = guardduty(stack, region);
    const { DetectorIds = [] } = await client.send(new ListDetectorsCommand({}));
    const DetectorId = DetectorIds[0];
    const AccountDetails = ids.map((id) => ({ AccountId: id, Email: `${id}@example.com` }));
    await client.send(new CreateMembersCommand({ DetectorId, AccountDetails }));
    if (invite) await client.send(new InviteMembersCommand({ DetectorId, AccountIds: ids }));
  }
}

describe("gd-onboard dlq", () => {
  it("lists the pipeline's dead letters and SQS's redrives, and replays exactly the selected ones", async () => {
    // Prepare: two dead letters of one reason, one of another, an invalid body, and a body SQS redrove.
    const stack = await start({ accounts: [A, B, C, D] });
    await publish(stack.sqs.client, stack.sqs.urls.DeadLetterQueue as string, [
      deadLetter(A, "eu-west-1", "guardduty-not-enabled-in-region"),
      deadLetter(B, "eu-west-1", "guardduty-not-enabled-in-region"),
      deadLetter(C, "us-east-1", "already-member-of-another-administrator"),
      JSON.stringify({
        reason: "invalid-message",
        detail: "body is not JSON",
        at: new Date().toISOString(),
        raw: "{oops",
      }),
    ]);
    await redriveBySqs(stack, accountCreatedEvent(D));

    // Act: list, as JSON and as the table people read.
    const listed = await listJson(stack);
    const table = await cli(stack, "dlq", "list", "--local");

    // Assess: both kinds, each with what an operator needs.
    expect(
      listed.map(({ source, reason, accountId, region }) => ({ source, reason, accountId, region })),
    ).toEqual(
      expect.arrayContaining([
        { source: "pipeline", reason: "guardduty-not-enabled-in-region", accountId: A, region: "eu-west-1" },
        { source: "pipeline", reason: "guardduty-not-enabled-in-region", accountId: B, region: "eu-west-1" },
        {
          source: "pipeline",
          reason: "already-member-of-another-administrator",
          accountId: C,
          region: "us-east-1",
        },
        { source: "pipeline", reason: "invalid-message", accountId: undefined, region: undefined },
        { source: "sqs-redrive", reason: "redriven-by-sqs", accountId: D, region: undefined },
      ]),
    );
    expect(listed).toHaveLength(5);
    expect(listed.find((entry) => entry.source === "sqs-redrive")).toMatchObject({
      receiveCount: expect.any(Number),
      ageSeconds: expect.any(Number),
      sourceQueueArn: expect.stringContaining("onboarding"),
    });
    expect(table.stdout).toContain("SQS redrive");
    expect(table.stdout).toContain("5 message(s): 4 written by the pipeline, 1 redriven by SQS");

    // Act: replay one reason.
    const replay = await cli(
      stack,
      "dlq",
      "replay",
      "--local",
      "--reason",
      "guardduty-not-enabled-in-region",
    );

    // Assess: exactly those two, as fresh requests, and gone from the DLQ; the rest untouched.
    expect(replay.code).toBe(0);
    expect(replay.stdout).toContain("Replayed 2 message(s)");
    expect(await bodies(stack, "OnboardingQueue")).toEqual(
      expect.arrayContaining(
        [A, B].map((accountId) =>
          expect.objectContaining({
            accountId,
            regions: ["eu-west-1"],
            attempt: 0,
            origin: "replay",
            correlationId: `evt-${accountId}`,
          }),
        ),
      ),
    );
    expect((await deadLetters(stack)).map((letter) => letter.reason).sort()).toEqual([
      "already-member-of-another-administrator",
      "invalid-message",
      "redriven-by-sqs",
    ]);
  });

  it("moves the whole DLQ back with StartMessageMoveTask, saying which messages cannot be replayed", async () => {
    // Prepare: only bodies SQS redrove.
    const stack = await start({ accounts: [A, B] });
    const request = JSON.stringify({
      version: 1,
      accountId: B,
      attempt: 3,
      origin: "retry",
      regions: ["us-east-1"],
    });
    await redriveBySqs(stack, accountCreatedEvent(A));
    await redriveBySqs(stack, request);

    // Act
    const moved = await cli(stack, "dlq", "replay", "--local", "--all");

    // Assess: both bodies moved verbatim, the DLQ is empty.
    expect(moved.code).toBe(0);
    expect(moved.stdout).toContain("Moved 2 message(s) to OnboardingQueue");
    const onboarding = await bodies(stack, "OnboardingQueue");
    expect(onboarding).toEqual(
      expect.arrayContaining([expect.objectContaining({ source: "aws.organizations" }), JSON.parse(request)]),
    );
    expect(onboarding).toHaveLength(2);
    expect(await deadLetters(stack)).toEqual([]);

    // Prepare: a pipeline dead letter and an invalid body.
    await publish(stack.sqs.client, stack.sqs.urls.DeadLetterQueue as string, [
      deadLetter(A, "us-east-1", "access-denied"),
      JSON.stringify({
        reason: "invalid-message",
        detail: "body is not JSON",
        at: new Date().toISOString(),
        raw: "{oops",
      }),
    ]);

    // Act
    const movedAgain = await cli(stack, "dlq", "replay", "--local", "--all");

    // Assess: both move verbatim (the pipeline replays a dead letter it wrote as its request, fresh),
    // and the operator is told which one will come back.
    expect(movedAgain.code).toBe(0);
    expect(movedAgain.stdout).toContain("1 of 2 message(s) cannot be replayed (invalid-message 1)");
    expect(movedAgain.stdout).toContain("Moved 2 message(s) to OnboardingQueue");
    expect(await deadLetters(stack)).toEqual([]);
  });

  it("replays an account whose cause was fixed until it is a member, inviting it once even when replayed twice", async () => {
    // Prepare: GuardDuty is off in eu-west-1, and the account's event was delivered twice.
    const stack = await start({
      accounts: [A],
      withoutFunction: false,
      sandbox: { regionsWithoutDetector: ["eu-west-1"] },
    });
    await publish(stack.sqs.client, stack.sqs.urls.OnboardingQueue as string, [
      accountCreatedEvent(A),
      accountCreatedEvent(A),
    ]);
    await stack.drained(30_000);
    expect((await listJson(stack)).map(({ reason, region }) => `${reason} ${region}`)).toEqual([
      "guardduty-not-enabled-in-region eu-west-1",
      "guardduty-not-enabled-in-region eu-west-1",
    ]);
    // The operator enables GuardDuty in eu-west-1.
    await guardduty(stack, "eu-west-1").send(new CreateDetectorCommand({ Enable: true }));

    // Act
    const replay = await cli(stack, "dlq", "replay", "--local", "--account", A);
    await stack.drained(30_000);

    // Assess
    expect(replay.stdout).toContain("Replayed 2 message(s)");
    expect(ONBOARDED).toContain(stack.sandbox.status(A, "eu-west-1"));
    expect(stack.sandbox.counters.invitations(A, "eu-west-1")).toBe(1);
    expect(stack.sandbox.counters.invitations(A, "us-east-1")).toBe(1);
    expect(await deadLetters(stack)).toEqual([]);
    const status = await cli(stack, "status", A, "--local", "--json");
    expect(JSON.parse(status.stdout)).toEqual([
      expect.objectContaining({
        accountId: A,
        organization: "ACTIVE",
        regions: {
          "us-east-1": expect.stringMatching(/Invited|Enabled/),
          "eu-west-1": expect.stringMatching(/Invited|Enabled/),
        },
        deadLetters: [],
      }),
    ]);
  });
});

describe("gd-onboard backfill", () => {
  it("enqueues exactly the missing (account, region) pairs of the active accounts, the administrator never", async () => {
    // Prepare: A invited everywhere, B only in us-east-1, C created (never invited) in us-east-1 and
    // invited in eu-west-1, D nowhere; a suspended account; the management account (not a member).
    const suspended = "510000000099";
    const stack = await start({ accounts: [A, B, C, D] });
    stack.sandbox.addAccounts([{ id: suspended, status: "SUSPENDED" }]);
    await makeMembers(stack, ["us-east-1"], [A, B], true);
    await makeMembers(stack, ["us-east-1"], [C], false);
    await makeMembers(stack, ["eu-west-1"], [A, C], true);

    // Act: a dry run first, then the real one.
    const dry = await cli(stack, "backfill", "--local", "--dry-run");
    const queuedByDryRun = await bodies(stack, "OnboardingQueue");
    const real = await cli(stack, "backfill", "--local");

    // Assess
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain(`would enqueue ${C}`);
    expect(queuedByDryRun).toEqual([]);
    expect(real.code).toBe(0);
    expect(real.stderr).toContain("organization accounts listed");
    const requested = Object.fromEntries(
      (await bodies(stack, "OnboardingQueue")).map((body) => [body.accountId, body.regions]),
    );
    expect(requested).toEqual({
      [stack.sandbox.managementAccountId]: REGIONS,
      [B]: ["eu-west-1"],
      [C]: ["us-east-1"],
      [D]: REGIONS,
    });
  });

  it("runs as the real executable: --help, and a command against the local stack", async () => {
    const stack = await start({ accounts: [A] });
    await publish(stack.sqs.client, stack.sqs.urls.DeadLetterQueue as string, [
      deadLetter(A, "us-east-1", "access-denied"),
    ]);
    const exec = promisify(execFile);
    const env = { ...process.env, ...stack.env };

    const help = await exec("cli/gd-onboard.mjs", ["--help"], { env });
    const list = await exec("cli/gd-onboard.mjs", ["dlq", "list", "--local", "--account", A], { env });

    expect(help.stdout).toContain("Usage: gd-onboard <command>");
    expect(list.stdout).toMatch(new RegExp(`pipeline\\s+access-denied\\s+${A}\\s+us-east-1`));
  });
});

describe("reconcile function", () => {
  it("finds an account whose creation event was never delivered and onboards it", async () => {
    // Prepare: every account of the organization a member, as if their events had been delivered,
    // then a new account whose event was lost.
    const stack = await start({ accounts: [A, B], withoutFunction: false });
    await makeMembers(stack, REGIONS, [A, B, stack.sandbox.managementAccountId], true);
    stack.sandbox.addAccounts([{ id: C }]);

    // Act
    const report = await runReconcile(stack, { runId: "schedule-2" });
    await stack.drained(30_000);

    // Assess: only the lost account, in both regions, and it ends a member. The others are invited
    // and this stack leaves acceptance to the members (acceptInvitations false): nothing to repair.
    expect(report.repairs).toEqual({ "not-a-member": 2 });
    expect(report.summary.byVerdict).toMatchObject({
      "not-a-member": 2,
      "invited-not-accepted": 6,
      protected: 0,
    });
    for (const region of REGIONS) expect(ONBOARDED).toContain(stack.sandbox.status(C, region));
  });
});
