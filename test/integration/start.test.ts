import { execFile } from "node:child_process";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import { describe, expect, it } from "vitest";
import { startLocalStack } from "../../local/local-stack.ts";
import type { RunSummary } from "../../local/summary.ts";

const run = promisify(execFile);

/** `npm start` as a newcomer runs it: the CLI in its own process, no AWS account, no network. */
describe("npm start", () => {
  it("runs the default scenario and prints one JSON summary with every documented field", async () => {
    const { stdout } = await run("npm", ["start", "--silent", "--", "--json", "--logs", "/dev/null"], {
      timeout: 120_000,
    });

    const summary = JSON.parse(stdout) as RunSummary;
    expect(Object.keys(summary)).toEqual(
      expect.arrayContaining([
        "members",
        "protection",
        "plans",
        "outcomes",
        "reasons",
        "deadLetters",
        "apiCalls",
        "duplicateInvitations",
        "queues",
        "wallTimeMs",
      ]),
    );
    // Members enabled (invited and accepted) in the regions with a detector; none in the region without one.
    expect(summary.statusCounts["us-east-1"]?.Enabled).toBeGreaterThan(25);
    expect(summary.statusCounts["ca-central-1"]).toEqual({ none: expect.any(Number) });
    // Every onboardable (account, region) protected with the default profile: each one that is not was
    // dead-lettered with its reason (no detector in the region, another administrator's member).
    const lettered = new Set(summary.deadLetters.map((letter) => `${letter.accountId}/${letter.region}`));
    for (const [accountId, regions] of Object.entries(summary.protection))
      for (const [region, verdict] of Object.entries(regions))
        if (!lettered.has(`${accountId}/${region}`))
          expect(`${accountId}/${region} ${verdict}`).toMatch(/ protected$/);
    expect(summary.protectionCounts["us-east-1"]?.protected).toBe(summary.statusCounts["us-east-1"]?.Enabled);
    const [protectedAccount] =
      Object.entries(summary.protection).find(([, regions]) => regions["us-east-1"] === "protected") ?? [];
    expect(summary.plans[protectedAccount as string]?.["us-east-1"]).toMatchObject({
      S3_DATA_EVENTS: "ENABLED",
      RUNTIME_MONITORING: { status: "DISABLED" },
    });
    // The scenario's rejections, each dead-lettered with its reason.
    expect(summary.reasons).toMatchObject({
      "already-member-of-another-administrator": 3,
      "invalid-message": 1,
      "account-not-created": 1,
    });
    expect(new Set(summary.deadLetters.map((letter) => letter.reason))).toEqual(
      new Set([
        "already-member-of-another-administrator",
        "guardduty-not-enabled-in-region",
        "invalid-message",
      ]),
    );
    expect(summary.throttled).toBeGreaterThan(0);
    expect(summary.duplicateInvitations).toEqual([]);
    expect(summary.queues.OnboardingQueue).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
    expect(summary.queues.RetryQueue).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
  }, 120_000);

  it("applies a profile given with --plans, and refuses an invalid one before anything starts", async () => {
    const plans = { default: { S3_DATA_EVENTS: "DISABLED", LAMBDA_NETWORK_LOGS: "ENABLED" } };
    const { stdout } = await run(
      "npm",
      [
        "start",
        "--silent",
        "--",
        "--json",
        "--accounts",
        "4",
        "--plans",
        JSON.stringify(plans),
        "--logs",
        "/dev/null",
      ],
      { timeout: 120_000 },
    );
    const summary = JSON.parse(stdout) as RunSummary;
    const lettered = new Set(summary.deadLetters.map((letter) => `${letter.accountId}/${letter.region}`));
    let protectedPairs = 0;
    for (const [accountId, regions] of Object.entries(summary.protection))
      for (const [region, verdict] of Object.entries(regions)) {
        if (lettered.has(`${accountId}/${region}`)) continue;
        expect(verdict).toBe("protected");
        expect(summary.plans[accountId]?.[region]).toMatchObject({
          S3_DATA_EVENTS: "DISABLED",
          LAMBDA_NETWORK_LOGS: "ENABLED",
        });
        protectedPairs += 1;
      }
    expect(protectedPairs).toBeGreaterThan(10);

    const invalid = await run(
      "npm",
      ["start", "--silent", "--", "--plans", '{"default":{"S3_LOGS":"ENABLED"}}'],
      {
        timeout: 60_000,
      },
    ).catch((error: { code: number; stderr: string }) => error);
    expect(invalid).toMatchObject({
      code: 1,
      stderr: expect.stringContaining('"default.S3_LOGS": unknown feature'),
    });
  }, 180_000);

  it("runs the whole pipeline in organization mode with --mode organization: members Enabled, no invitation, no AssumeRole", async () => {
    const { stdout } = await run(
      "npm",
      ["start", "--silent", "--", "--mode", "organization", "--json", "--logs", "/dev/null"],
      { timeout: 120_000 },
    );

    const summary = JSON.parse(stdout) as RunSummary;
    expect(summary.membershipMode).toBe("organization");
    expect(summary.delegatedAdministratorRegions).toEqual([
      "us-east-1",
      "eu-west-1",
      "ap-southeast-2",
      "ca-central-1",
    ]);
    expect(summary.statusCounts["us-east-1"]?.Enabled).toBeGreaterThan(25);
    expect(Object.keys(summary.statusCounts["eu-west-1"] ?? {})).toEqual(
      expect.not.arrayContaining(["Invited"]),
    );
    expect(summary.outcomes.invited ?? 0).toBe(0);
    expect(Object.keys(summary.apiCalls)).toEqual(
      expect.not.arrayContaining(["InviteMembers", "AssumeRole"]),
    );
    expect(summary.apiCalls).toMatchObject({ CreateMembers: expect.any(Number) });
    expect(summary.queues.AcceptQueue).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
    expect(summary.duplicateInvitations).toEqual([]);
  }, 120_000);

  it("publishes raw bodies from an NDJSON file and names their accounts in the seeded organization", async () => {
    const dir = await mkdtemp(join(tmpdir(), "gd-onboard-start-"));
    const messages = join(dir, "bodies.ndjson");
    await writeFile(messages, '{"version":1,"accountId":"777777777777","origin":"manual"}\nnot json\n');

    const { stdout } = await run(
      "npm",
      [
        "start",
        "--silent",
        "--",
        "--json",
        "--logs",
        "/dev/null",
        "--events",
        "events/controltower-create-managed-account-succeeded.json",
        "--messages",
        messages,
        "--regions",
        "eu-west-1",
      ],
      { timeout: 120_000 },
    );

    const summary = JSON.parse(stdout) as RunSummary;
    expect(summary.members).toEqual({
      "444444444444": { "eu-west-1": "Enabled" },
      "777777777777": { "eu-west-1": "Enabled" },
    });
    expect(summary.deadLetters).toEqual([
      expect.objectContaining({
        reason: "invalid-message",
        body: expect.objectContaining({ raw: "not json\n".trim() }),
      }),
    ]);
  }, 120_000);
});

describe("npm run invoke", () => {
  it("runs the onboard function's bundle once with its environment set in the shell: the account is invited and handed to the member side", async () => {
    const local = await startLocalStack({
      regions: ["eu-west-1"],
      withoutFunction: true,
      sandbox: {
        accountCount: 2,
        accounts: [{ id: "222222222222" }],
        administratorAccountId: "210987654321",
      },
    });
    try {
      const { stdout } = await run(
        "npm",
        ["run", "--silent", "invoke", "--", "events/sqs/onboard-batch.json"],
        {
          env: { ...process.env, ...local.functionEnv },
          timeout: 60_000,
        },
      );

      expect(JSON.parse(stdout)).toEqual({ batchItemFailures: [] });
      expect(local.sandbox.status("222222222222", "eu-west-1")).toBe("Invited");
      const { Messages = [] } = await local.sqs.client.send(
        new ReceiveMessageCommand({ QueueUrl: local.sqs.urls.AcceptQueue, MaxNumberOfMessages: 10 }),
      );
      expect(Messages.map((message) => JSON.parse(message.Body ?? ""))).toEqual([
        expect.objectContaining({
          accountId: "222222222222",
          regions: ["eu-west-1"],
          step: "accept",
          attempt: 0,
        }),
      ]);
    } finally {
      await local.stop();
    }
  }, 60_000);
});
