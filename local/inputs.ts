/**
 * What a local run publishes to OnboardingQueue: EventBridge events as a rule delivers them (from
 * files or synthesized), and raw message bodies sent as-is.
 */
import { randomUUID } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import type { SQSClient } from "@aws-sdk/client-sqs";
import { enqueue } from "#shared/enqueue";
import { parseMessage } from "#shared/message";

/** JSON files of a folder (sorted), or the one file named. */
function files(path: string, pattern: RegExp): string[] {
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path)
    .filter((name) => pattern.test(name))
    .sort()
    .map((name) => join(path, name));
}

/** EventBridge events from a file (one event, or an array of events) or a folder of such files. */
export function readEvents(path: string): string[] {
  return files(path, /\.json$/).flatMap((file) => {
    const content = JSON.parse(readFileSync(file, "utf8")) as unknown;
    return (Array.isArray(content) ? content : [content]).map((event) => JSON.stringify(event));
  });
}

/** Raw bodies: one per file of a folder, or the lines of an NDJSON file, or one whole file. */
export function readMessages(path: string): string[] {
  return files(path, /./).flatMap((file) => {
    const content = readFileSync(file, "utf8");
    if (!file.endsWith(".ndjson")) return [content];
    return content.split("\n").filter((line) => line.trim() !== "");
  });
}

/** `count` deterministic new account ids for a seed (12 digits, never colliding with the samples). */
export function newAccountIds(count: number, seed: number): string[] {
  const base = 400_000_000_000 + (seed % 1000) * 1_000_000;
  return Array.from({ length: count }, (_, index) => String(base + index));
}

/** An Organizations `CreateAccountResult` SUCCEEDED event for a new account, as the rule delivers it. */
export function accountCreatedEvent(accountId: string, at = new Date()): string {
  return JSON.stringify({
    version: "0",
    id: randomUUID(),
    "detail-type": "AWS Service Event via CloudTrail",
    source: "aws.organizations",
    account: "111111111111",
    time: at.toISOString().replace(/\.\d{3}Z$/, "Z"),
    region: "us-east-1",
    resources: [],
    detail: {
      eventVersion: "1.08",
      userIdentity: { accountId: "111111111111", invokedBy: "AWS Internal" },
      eventTime: at.toISOString(),
      eventSource: "organizations.amazonaws.com",
      eventName: "CreateAccountResult",
      awsRegion: "us-east-1",
      eventType: "AwsServiceEvent",
      managementEvent: true,
      recipientAccountId: "111111111111",
      serviceEventDetails: {
        createAccountStatus: {
          id: `car-${randomUUID().replaceAll("-", "")}`,
          state: "SUCCEEDED",
          accountName: "****",
          accountId,
        },
      },
    },
  });
}

/** The account ids that bodies ask to onboard (invalid bodies and FAILED events name none). */
export function accountsNamed(bodies: readonly string[]): string[] {
  const ids = new Set<string>();
  for (const body of bodies) {
    try {
      const parsed = parseMessage(body);
      if (parsed.kind === "request") ids.add(parsed.request.accountId);
    } catch {
      // A malformed body names no account: it is published as it is, to be dead-lettered.
    }
  }
  return [...ids];
}

/** Sends bodies to a queue, 10 a call; every entry must be confirmed. */
export async function publish(sqs: SQSClient, queueUrl: string, bodies: readonly string[]): Promise<void> {
  const { failed } = await enqueue(
    sqs,
    queueUrl,
    bodies.map((body, index) => ({ key: String(index), body })),
  );
  if (failed.size > 0) throw new Error(`publishing failed: ${JSON.stringify(Object.fromEntries(failed))}`);
}

/** The accounts the samples in `events/` name (its events, and the bodies of its SQS batches in `events/sqs/`). */
export function sampleAccounts(folder = "events"): string[] {
  const batches = files(join(folder, "sqs"), /\.json$/).flatMap((file) => {
    const { Records = [] } = JSON.parse(readFileSync(file, "utf8")) as { Records?: { body?: string }[] };
    return Records.map((record) => record.body ?? "");
  });
  return accountsNamed([...readEvents(folder), ...batches]);
}
