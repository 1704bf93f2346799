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
