import {
  type AttributeValue,
  BatchGetItemCommand,
  type BatchGetItemCommandOutput,
  BatchWriteItemCommand,
  ConditionalCheckFailedException,
  type DynamoDBClient,
  UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";
import { chunk } from "./concurrency.ts";

/**
 * The account directory's shared part: a DynamoDB table (serverless.yml `AccountDirectoryTable`) in which
 * the onboard function's containers keep the accounts they learnt, and a lease that lets one container
 * at a time list the organization. A cache, nothing more: entries expire, and an entry missing is only
 * a call to Organizations more.
 */

/** What the directory knows of an account. The e-mail is PII: it never reaches a log line. */
export interface AccountInfo {
  readonly accountId: string;
  readonly email?: string;
  readonly active: boolean;
}

/** The listing lease's item: who lists, until when, and the last listing. */
export interface Listing {
  readonly owner?: string;
  /** Epoch ms until which `owner` holds the lease. */
  readonly leaseUntil: number;
  /** Epoch ms at which the last listing started (it holds every account created before). */
  readonly startedAt: number;
  readonly organizationSize?: number;
}

/** BatchGetItem: ≤ 100 keys a call; BatchWriteItem: ≤ 25 items a call (DynamoDB API model). */
const MAX_GET = 100;
const MAX_WRITE = 25;
/** Unprocessed items are written again this many times at most; then they are left out (it is a cache). */
const WRITE_ROUNDS = 3;
/** Accounts are remembered this long: states change (an account closes), e-mails rarely. */
export const ENTRY_TTL_SECONDS = 3600;
/** The listing lease's key: not an account id (those are 12 digits). */
const LISTING_KEY = "#listing";

export class DirectoryStore {
  readonly #client: DynamoDBClient;
  readonly #table: string;
  readonly #now: () => number;

  constructor(client: DynamoDBClient, table: string, now: () => number = Date.now) {
    this.#client = client;
    this.#table = table;
    this.#now = now;
  }

  /** The unexpired entries among `accountIds`. */
  async get(accountIds: readonly string[], signal?: AbortSignal): Promise<Map<string, AccountInfo>> {
    const found = new Map<string, AccountInfo>();
    const nowSeconds = this.#now() / 1000;
    for (const part of chunk([...new Set(accountIds)], MAX_GET)) {
      let keys: Record<string, AttributeValue>[] | undefined = part.map((id) => ({ accountId: { S: id } }));
      while (keys && keys.length > 0) {
        const answer: BatchGetItemCommandOutput = await this.#client.send(
          new BatchGetItemCommand({ RequestItems: { [this.#table]: { Keys: keys } } }),
          { abortSignal: signal },
        );
        for (const item of answer.Responses?.[this.#table] ?? []) {
          const info = toInfo(item);
          if (info && Number(item.expiresAt?.N ?? 0) > nowSeconds) found.set(info.accountId, info);
        }
        keys = answer.UnprocessedKeys?.[this.#table]?.Keys;
      }
    }
    return found;
  }

  /** Remembers accounts (best effort: what DynamoDB does not take after a few rounds is left out). */
  async put(accounts: readonly AccountInfo[], signal?: AbortSignal): Promise<void> {
    const expiresAt = String(Math.floor(this.#now() / 1000) + ENTRY_TTL_SECONDS);
    for (const part of chunk(accounts, MAX_WRITE)) {
      let requests = part.map((account) => ({
        PutRequest: {
          Item: {
            accountId: { S: account.accountId },
            active: { BOOL: account.active },
            expiresAt: { N: expiresAt },
            ...(account.email && { email: { S: account.email } }),
          },
        },
      }));
      for (let round = 0; round < WRITE_ROUNDS && requests.length > 0; round++) {
        const answer = await this.#client.send(
          new BatchWriteItemCommand({ RequestItems: { [this.#table]: requests } }),
          { abortSignal: signal },
        );
        requests = (answer.UnprocessedItems?.[this.#table] ?? []) as typeof requests;
      }
    }
  }

  /** The listing lease as it stands. */
  async listing(signal?: AbortSignal): Promise<Listing> {
    const answer = await this.#client.send(
      new BatchGetItemCommand({
        RequestItems: { [this.#table]: { Keys: [{ accountId: { S: LISTING_KEY } }] } },
      }),
      { abortSignal: signal },
    );
    const item = answer.Responses?.[this.#table]?.[0];
    return {
      owner: item?.owner?.S,
      leaseUntil: Number(item?.leaseUntil?.N ?? 0),
      startedAt: Number(item?.startedAt?.N ?? 0),
      organizationSize: item?.organizationSize?.N === undefined ? undefined : Number(item.organizationSize.N),
    };
  }

  /**
   * Takes the lease to list the organization, unless another container holds it or a listing that
   * started at or after `since` (so holds every account created before) is done already.
   */
  async acquire(owner: string, leaseMs: number, since: number, signal?: AbortSignal): Promise<boolean> {
    const now = this.#now();
    try {
      await this.#client.send(
        new UpdateItemCommand({
          TableName: this.#table,
          Key: { accountId: { S: LISTING_KEY } },
          UpdateExpression: "SET #owner = :owner, leaseUntil = :until, startedAt = :now",
          ConditionExpression:
            "(attribute_not_exists(leaseUntil) OR leaseUntil < :now) AND (attribute_not_exists(startedAt) OR startedAt < :since)",
          ExpressionAttributeNames: { "#owner": "owner" },
          ExpressionAttributeValues: {
            ":owner": { S: owner },
            ":until": { N: String(now + leaseMs) },
            ":now": { N: String(now) },
            ":since": { N: String(since) },
          },
        }),
        { abortSignal: signal },
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  /** Extends the lease while the listing goes on. */
  async renew(owner: string, leaseMs: number, signal?: AbortSignal): Promise<void> {
    await this.#update(
      owner,
      "SET leaseUntil = :until",
      { ":until": { N: String(this.#now() + leaseMs) } },
      signal,
    );
  }

  /** Ends the lease; a finished listing records the organization's size (the next listing's cost). */
  async release(owner: string, organizationSize?: number, signal?: AbortSignal): Promise<void> {
    const values: Record<string, AttributeValue> = { ":until": { N: "0" } };
    if (organizationSize !== undefined) values[":size"] = { N: String(organizationSize) };
    const update =
      organizationSize === undefined
        ? "SET leaseUntil = :until"
        : "SET leaseUntil = :until, organizationSize = :size";
    await this.#update(owner, update, values, signal);
  }

  async #update(owner: string, update: string, values: Record<string, AttributeValue>, signal?: AbortSignal) {
    await this.#client.send(
      new UpdateItemCommand({
        TableName: this.#table,
        Key: { accountId: { S: LISTING_KEY } },
        UpdateExpression: update,
        ConditionExpression: "#owner = :owner",
        ExpressionAttributeNames: { "#owner": "owner" },
        ExpressionAttributeValues: { ":owner": { S: owner }, ...values },
      }),
      { abortSignal: signal },
    );
  }
}

function toInfo(item: Record<string, AttributeValue>): AccountInfo | undefined {
  const accountId = item.accountId?.S;
  if (!accountId || accountId === LISTING_KEY) return undefined;
  return { accountId, email: item.email?.S, active: item.active?.BOOL ?? false };
}
