import {
  type AttributeValue,
  BatchGetItemCommand,
  type BatchGetItemCommandOutput,
  BatchWriteItemCommand,
  type DynamoDBClient,
} from "@aws-sdk/client-dynamodb";
import { chunk } from "./concurrency.ts";
import { describeError } from "./privacy.ts";

/**
 * Which (account, region) pairs wait in the DeadLetterQueue: a DynamoDB table (serverless.yml
 * `DeadLetterIndexTable`) the functions write when SQS confirms a dead letter, and the reconcile reads so
 * that a pair an operator must look at is reported, not enqueued again by every run only to be
 * dead-lettered again. An entry expires with the dead letter (the DLQ keeps messages 14 days). A replay
 * that fails again writes it again; one that succeeds leaves the pair protected, which the reconcile sees
 * first. A dead letter SQS redrove itself (a crash at every receive) is not indexed: its pair is enqueued
 * again, as before.
 */

/** The DLQ's retention (serverless.yml `deadLetterRetention`): an entry lives as long as its dead letter. */
export const ENTRY_TTL_SECONDS = 14 * 24 * 3600;
/** BatchGetItem: ≤ 100 keys a call; BatchWriteItem: ≤ 25 items a call (DynamoDB API model). */
const MAX_GET = 100;
const MAX_WRITE = 25;
/** Unprocessed items are written again this many times at most. */
const WRITE_ROUNDS = 3;

export interface DeadLettered {
  readonly accountId: string;
  readonly region: string;
  readonly reason: string;
}

export class DeadLetterIndex {
  readonly #client: DynamoDBClient;
  readonly #table: string;
  readonly #now: () => number;
  readonly #onError: (detail: string) => void;

  constructor(
    client: DynamoDBClient,
    table: string,
    options: { readonly now?: () => number; readonly onError?: (detail: string) => void } = {},
  ) {
    this.#client = client;
    this.#table = table;
    this.#now = options.now ?? Date.now;
    this.#onError = options.onError ?? (() => undefined);
  }

  /**
   * Records dead-lettered pairs. Never throws: the dead letter is durable already, and a pair missing
   * here is only enqueued once more by the next reconcile; failures go to `onError`.
   */
  async record(pairs: readonly DeadLettered[]): Promise<void> {
    const expiresAt = String(Math.floor(this.#now() / 1000) + ENTRY_TTL_SECONDS);
    const at = new Date(this.#now()).toISOString();
    try {
      for (const part of chunk(pairs, MAX_WRITE)) {
        let requests = part.map(({ accountId, region, reason }) => ({
          PutRequest: {
            Item: {
              accountId: { S: accountId },
              region: { S: region },
              reason: { S: reason },
              at: { S: at },
              expiresAt: { N: expiresAt },
            },
          },
        }));
        for (let round = 0; round < WRITE_ROUNDS && requests.length > 0; round++) {
          const answer = await this.#client.send(
            new BatchWriteItemCommand({ RequestItems: { [this.#table]: requests } }),
          );
          requests = (answer.UnprocessedItems?.[this.#table] ?? []) as typeof requests;
        }
        if (requests.length > 0)
          this.#onError(`${requests.length} entries not written after ${WRITE_ROUNDS} rounds`);
      }
    } catch (error) {
      this.#onError(describeError(error));
    }
  }

  /** Forgets pairs whose dead letter no longer holds their repair back (a region the account had not enabled). */
  async forget(pairs: readonly { readonly accountId: string; readonly region: string }[]): Promise<void> {
    for (const part of chunk(pairs, MAX_WRITE)) {
      let requests = part.map(({ accountId, region }) => ({
        DeleteRequest: { Key: { accountId: { S: accountId }, region: { S: region } } },
      }));
      for (let round = 0; round < WRITE_ROUNDS && requests.length > 0; round++) {
        const answer = await this.#client.send(
          new BatchWriteItemCommand({ RequestItems: { [this.#table]: requests } }),
        );
        requests = (answer.UnprocessedItems?.[this.#table] ?? []) as typeof requests;
      }
    }
  }

  /** The pairs among `pairs` whose dead letter still waits, as `<account id>/<region>` keys. */
  async waiting(
    pairs: readonly { readonly accountId: string; readonly region: string }[],
    signal?: AbortSignal,
  ): Promise<Set<string>> {
    const found = new Set<string>();
    const nowSeconds = this.#now() / 1000;
    const unique = [...new Map(pairs.map((pair) => [pairKey(pair), pair])).values()];
    for (const part of chunk(unique, MAX_GET)) {
      let keys: Record<string, AttributeValue>[] | undefined = part.map(({ accountId, region }) => ({
        accountId: { S: accountId },
        region: { S: region },
      }));
      while (keys && keys.length > 0) {
        const answer: BatchGetItemCommandOutput = await this.#client.send(
          new BatchGetItemCommand({ RequestItems: { [this.#table]: { Keys: keys } } }),
          { abortSignal: signal },
        );
        for (const item of answer.Responses?.[this.#table] ?? []) {
          const accountId = item.accountId?.S;
          const region = item.region?.S;
          if (accountId && region && Number(item.expiresAt?.N ?? 0) > nowSeconds)
            found.add(pairKey({ accountId, region }));
        }
        keys = answer.UnprocessedKeys?.[this.#table]?.Keys;
      }
    }
    return found;
  }
}

/**
 * What a function's `dispatch` calls with the dead letters SQS confirmed: records them in the stage's
 * index, logging (never throwing) what could not be recorded. None when the stage has no index.
 */
export function deadLetterRecorder(
  client: DynamoDBClient,
  table: string | undefined,
  log: { warn(message: string, fields: Record<string, unknown>): void },
): ((pairs: readonly DeadLettered[]) => Promise<void>) | undefined {
  if (!table) return undefined;
  const index = new DeadLetterIndex(client, table, {
    onError: (detail) =>
      log.warn("dead-letter index: not recorded; the next reconcile enqueues these pairs again", { detail }),
  });
  return (pairs) => index.record(pairs);
}

export function pairKey(pair: { readonly accountId: string; readonly region: string }): string {
  return `${pair.accountId}/${pair.region}`;
}
