import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { SendMessageBatchCommand, SQSClient } from "@aws-sdk/client-sqs";
import { mockClient } from "aws-sdk-client-mock";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deadLetterOf } from "#shared/dead-letter";
import { DeadLetterIndex, deadLetterRecorder, ENTRY_TTL_SECONDS } from "#shared/dead-letter-index";
import { dispatch } from "#shared/dispatch";
import { type LocalDynamo, startLocalDynamo } from "../../local/dynamodb.ts";
import { LOCAL_CREDENTIALS } from "../../local/sqs.ts";
import { readStack } from "../../local/stack.ts";

/** The dead-letter index against a real DynamoDB-protocol server (dynalite), created as serverless.yml declares it. */
let dynamo: LocalDynamo;
let client: DynamoDBClient;
let table: string;
const NOW = Date.UTC(2026, 11, 6, 6, 0, 0);

beforeAll(async () => {
  dynamo = await startLocalDynamo(
    readStack().tables.filter(({ name }) => name === "DeadLetterIndexTable"),
    "210987654321",
    "unit-index",
  );
  table = dynamo.tables.DeadLetterIndexTable as string;
  client = new DynamoDBClient({
    endpoint: dynamo.endpoint,
    region: "us-east-1",
    credentials: LOCAL_CREDENTIALS,
  });
});

afterAll(async () => {
  client.destroy();
  await dynamo.close();
});

describe("DeadLetterIndex", () => {
  it("finds the pairs it recorded, in batches beyond DynamoDB's 25 writes and 100 reads a call, until they expire with the DLQ's retention", async () => {
    const index = new DeadLetterIndex(client, table, { now: () => NOW });
    const recorded = Array.from({ length: 130 }, (_, i) => ({
      accountId: String(700000000000 + i),
      region: i % 2 ? "eu-west-1" : "us-east-1",
      reason: "already-member-of-another-administrator",
    }));

    await index.record(recorded);
    const asked = [...recorded, { accountId: "700000000999", region: "us-east-1" }];
    const found = await index.waiting(asked);
    const later = new DeadLetterIndex(client, table, { now: () => NOW + (ENTRY_TTL_SECONDS + 1) * 1000 });

    expect(found.size).toBe(130);
    expect(found.has("700000000001/eu-west-1")).toBe(true);
    expect(found.has("700000000001/us-east-1")).toBe(false);
    expect((await later.waiting(asked)).size).toBe(0);
  });

  it("never throws when it cannot record: the failure goes to onError", async () => {
    const errors: string[] = [];
    const index = new DeadLetterIndex(client, "no-such-table", { onError: (detail) => errors.push(detail) });

    await index.record([{ accountId: "700000000500", region: "us-east-1", reason: "x" }]);

    expect(errors).toEqual([expect.stringContaining("ResourceNotFoundException")]);
  });

  it("keeps ENTRY_TTL_SECONDS equal to the DLQ's retention in serverless.yml", () => {
    const dlq = readStack().queues.find(({ name }) => name === "DeadLetterQueue");
    expect(Number(dlq?.attributes.MessageRetentionPeriod)).toBe(ENTRY_TTL_SECONDS);
  });
});

describe("dispatch with a dead-letter recorder", () => {
  it("records the (account, region) of the dead letters SQS confirmed, and of no other message", async () => {
    // Prepare: three dead letters (the second unconfirmed) and a retry.
    const sqs = mockClient(SQSClient);
    sqs.on(SendMessageBatchCommand).callsFake((input: { Entries: { Id: string }[] }) => ({
      Successful: input.Entries.filter(({ Id }) => Id !== "1").map(({ Id }) => ({
        Id,
        MessageId: Id,
        MD5OfMessageBody: "",
      })),
      Failed: input.Entries.filter(({ Id }) => Id === "1").map(({ Id }) => ({
        Id,
        Code: "InternalError",
        SenderFault: false,
      })),
    }));
    const letter = (accountId: string, region: string) =>
      JSON.stringify(
        deadLetterOf(
          { version: 1, accountId, attempt: 0, origin: "event" },
          region,
          { reason: "member-limit-reached", detail: "limit" },
          "2026-12-06T06:00:00.000Z",
        ),
      );
    const outbound = [
      { sourceId: "a", destination: "dead-letter" as const, body: letter("700000001001", "us-east-1") },
      { sourceId: "b", destination: "dead-letter" as const, body: letter("700000001002", "us-east-1") },
      { sourceId: "c", destination: "dead-letter" as const, body: letter("700000001003", "eu-west-1") },
      { sourceId: "d", destination: "retry" as const, body: "{}" },
    ];
    const onDeadLettered = deadLetterRecorder(client, table, { warn: () => undefined });

    // Act
    const failed = await dispatch(
      new SQSClient({ region: "us-east-1" }),
      {
        retry: "https://q/retry",
        "dead-letter": "https://q/dlq",
        accept: "https://q/accept",
        verify: "https://q/retry",
      },
      outbound,
      { onDeadLettered },
    );

    // Assess
    sqs.restore();
    expect([...failed.keys()]).toEqual(["b"]);
    const found = await new DeadLetterIndex(client, table).waiting([
      { accountId: "700000001001", region: "us-east-1" },
      { accountId: "700000001002", region: "us-east-1" },
      { accountId: "700000001003", region: "eu-west-1" },
    ]);
    expect([...found].sort()).toEqual(["700000001001/us-east-1", "700000001003/eu-west-1"]);
  });

  it("has no recorder when the stage has no index table", () => {
    expect(deadLetterRecorder(client, undefined, { warn: () => undefined })).toBeUndefined();
  });
});
