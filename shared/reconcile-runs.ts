import {
  type AttributeValue,
  ConditionalCheckFailedException,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  type QueryCommandOutput,
  UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";
import { VERDICTS, type Verdict } from "./coverage.ts";

/**
 * The state of reconcile runs: a DynamoDB table (serverless.yml `ReconcileRunsTable`) in which each unit of
 * a run (`reconcile-unit.ts`) records what it found, so that the run can be split across invocations,
 * resumed after a crash, and reported once. One partition per run:
 * - `run`: the regions, when it started, how many chunks of accounts the listing made (once it ended),
 *   the units done (a string set: adding an element twice is a no-op, so a redelivered unit counts
 *   once), and when it finished;
 * - `chunk#NNNNNN`: how many accounts a chunk of the listing held, how many inactive;
 * - `pairs#NNNNNN#REGION`: the verdict counts of one chunk in one region, and the repairs enqueued;
 * - `members#REGION#NNNNNN`: the departed accounts' members one stretch of a region's ListMembers found.
 * Items are overwritten whole, never added to, so a unit run twice leaves the same state. Runs expire
 * after {@link RUN_TTL_SECONDS}.
 */

/** A run's items expire after 14 days (DynamoDB TTL, `expiresAt`). */
export const RUN_TTL_SECONDS = 14 * 24 * 3600;

const RUN = "run";

/** What one chunk of accounts held, recorded by the listing unit that made it. */
export interface ChunkCounts {
  readonly accounts: number;
  readonly inactive: number;
  /** The chunk's active accounts (the members scan tells departed accounts by their absence). */
  readonly active: readonly string[];
}

/** What a pairs unit found in one region for one chunk. */
export interface RegionCounts {
  readonly byVerdict: Readonly<Partial<Record<Verdict, number>>>;
  /** Pairs given a repair that SQS confirmed, by the verdict they were repaired from. */
  readonly repairs: Readonly<Partial<Record<Verdict, number>>>;
  /** Repairs SQS did not confirm (the next run enqueues them again). */
  readonly notEnqueued: number;
  /** Pairs not repaired because their dead letter still waits in the DLQ (`dead-letter-index.ts`). */
  readonly waitingInDeadLetterQueue: number;
  /** Why the region's members could not be read for this chunk: its pairs are left out of the run. */
  readonly failed?: string;
}

/** The run item as it stands. */
export interface RunState {
  readonly runId: string;
  readonly regions: readonly string[];
  readonly startedAt: string;
  /** Chunks the listing made; undefined while it goes on. */
  readonly chunks?: number;
  /** Units done: `<chunk>/<region>` (a chunk judged in a region), `members/<region>` (a region scanned). */
  readonly done: ReadonlySet<string>;
  readonly finishedAt?: string;
}

/** The whole run, summed from its items. */
export interface RunTotals {
  readonly accounts: number;
  readonly inactive: number;
  readonly byVerdict: Readonly<Record<Verdict, number>>;
  /** Per region: the verdict counts (for the per-region Coverage). */
  readonly byRegion: Readonly<Record<string, Readonly<Record<Verdict, number>>>>;
  readonly repairs: Readonly<Partial<Record<Verdict, number>>>;
  readonly notEnqueued: number;
  readonly waitingInDeadLetterQueue: number;
  /** Region → why its members could not be read (for some chunk). */
  readonly regionsFailed: Readonly<Record<string, string>>;
}

/** The key of one unit of work in a run's `done` set. */
export function unitKey(chunk: number, region: string): string {
  return `${chunk}/${region}`;
}

/** The key of a region's finished members scan in a run's `done` set. */
export function scanKey(region: string): string {
  return `members/${region}`;
}

/** Whether every (chunk, region) of a run whose listing ended is done, and every region's members scanned. */
export function complete(run: RunState): boolean {
  if (run.chunks === undefined) return false;
  for (const region of run.regions) {
    if (!run.done.has(scanKey(region))) return false;
    for (let chunk = 0; chunk < run.chunks; chunk++) if (!run.done.has(unitKey(chunk, region))) return false;
  }
  return true;
}

export class ReconcileRuns {
  readonly #client: DynamoDBClient;
  readonly #table: string;
  readonly #now: () => number;

  constructor(client: DynamoDBClient, table: string, now: () => number = Date.now) {
    this.#client = client;
    this.#table = table;
    this.#now = now;
  }

  /** Starts a run; a run id seen before (a redelivered schedule) is not started again: false. */
  async start(runId: string, regions: readonly string[], signal?: AbortSignal): Promise<boolean> {
    try {
      await this.#client.send(
        new PutItemCommand({
          TableName: this.#table,
          Item: {
            ...this.#key(runId, RUN),
            regions: { S: regions.join(",") },
            startedAt: { S: new Date(this.#now()).toISOString() },
          },
          ConditionExpression: "attribute_not_exists(runId)",
        }),
        { abortSignal: signal },
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  async get(runId: string, signal?: AbortSignal): Promise<RunState | undefined> {
    const { Item } = await this.#client.send(
      new GetItemCommand({ TableName: this.#table, Key: this.#key(runId, RUN), ConsistentRead: true }),
      { abortSignal: signal },
    );
    return Item ? toRun(Item) : undefined;
  }

  async recordChunk(runId: string, chunk: number, counts: ChunkCounts, signal?: AbortSignal): Promise<void> {
    await this.#put(runId, `chunk#${pad(chunk)}`, { counts: { S: JSON.stringify(counts) } }, signal);
  }

  /** The listing ended with `chunks` chunks. */
  async listed(runId: string, chunks: number, signal?: AbortSignal): Promise<RunState> {
    return this.#update(runId, { set: "chunks = :chunks" }, { ":chunks": { N: String(chunks) } }, signal);
  }

  /** Records a region's counts for a chunk, then marks the unit done; the run as it then stands. */
  async recordRegion(
    runId: string,
    chunk: number,
    region: string,
    counts: RegionCounts,
    signal?: AbortSignal,
  ): Promise<RunState> {
    await this.#put(
      runId,
      `pairs#${pad(chunk)}#${region}`,
      { counts: { S: JSON.stringify(counts) } },
      signal,
    );
    return this.#update(runId, { add: "done :unit" }, { ":unit": { SS: [unitKey(chunk, region)] } }, signal);
  }

  /**
   * Records what one stretch of a region's members scan found; `finished`: the region's last page was
   * read, and the scan is marked done. The run as it then stands (undefined while the scan goes on).
   */
  async recordMembers(
    runId: string,
    region: string,
    stretch: number,
    counts: RegionCounts,
    finished: boolean,
    signal?: AbortSignal,
  ): Promise<RunState | undefined> {
    await this.#put(
      runId,
      `members#${region}#${pad(stretch)}`,
      { counts: { S: JSON.stringify(counts) } },
      signal,
    );
    if (!finished) return undefined;
    return this.#update(runId, { add: "done :unit" }, { ":unit": { SS: [scanKey(region)] } }, signal);
  }

  /** The organization's active accounts, as the run's listing units recorded them. */
  async organization(runId: string, signal?: AbortSignal): Promise<Set<string>> {
    const active = new Set<string>();
    let startKey: Record<string, AttributeValue> | undefined;
    do {
      const page: QueryCommandOutput = await this.#client.send(
        new QueryCommand({
          TableName: this.#table,
          KeyConditionExpression: "runId = :run AND begins_with(#item, :chunk)",
          ExpressionAttributeNames: { "#item": "item" },
          ExpressionAttributeValues: { ":run": { S: runId }, ":chunk": { S: "chunk#" } },
          ExclusiveStartKey: startKey,
          ConsistentRead: true,
        }),
        { abortSignal: signal },
      );
      for (const item of page.Items ?? [])
        for (const id of (JSON.parse(item.counts?.S ?? "{}") as Partial<ChunkCounts>).active ?? [])
          active.add(id);
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return active;
  }

  /** Claims the run's report: true for exactly one caller, however many see the run complete. */
  async claimFinish(runId: string, signal?: AbortSignal): Promise<boolean> {
    try {
      await this.#client.send(
        new UpdateItemCommand({
          TableName: this.#table,
          Key: this.#key(runId, RUN),
          UpdateExpression: "SET finishedAt = :at",
          ConditionExpression: "attribute_exists(runId) AND attribute_not_exists(finishedAt)",
          ExpressionAttributeValues: { ":at": { S: new Date(this.#now()).toISOString() } },
        }),
        { abortSignal: signal },
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  /** Keeps the run's report on its item, for whoever reads the run later (`gd-onboard`, tests). */
  async saveReport(runId: string, report: unknown, signal?: AbortSignal): Promise<void> {
    await this.#update(
      runId,
      { set: "report = :report" },
      { ":report": { S: JSON.stringify(report) } },
      signal,
    );
  }

  /** The report a finished run saved. */
  async report(runId: string, signal?: AbortSignal): Promise<unknown> {
    const { Item } = await this.#client.send(
      new GetItemCommand({ TableName: this.#table, Key: this.#key(runId, RUN), ConsistentRead: true }),
      { abortSignal: signal },
    );
    return Item?.report?.S ? JSON.parse(Item.report.S) : undefined;
  }

  /** Sums every chunk and region item of the run. */
  async totals(runId: string, signal?: AbortSignal): Promise<RunTotals> {
    const zero = () => Object.fromEntries(VERDICTS.map((verdict) => [verdict, 0])) as Record<Verdict, number>;
    const byVerdict = zero();
    const byRegion: Record<string, Record<Verdict, number>> = {};
    const repairs: Partial<Record<Verdict, number>> = {};
    const regionsFailed: Record<string, string> = {};
    let accounts = 0;
    let inactive = 0;
    let notEnqueued = 0;
    let waitingInDeadLetterQueue = 0;
    let startKey: Record<string, AttributeValue> | undefined;
    do {
      const page: QueryCommandOutput = await this.#client.send(
        new QueryCommand({
          TableName: this.#table,
          KeyConditionExpression: "runId = :run",
          ExpressionAttributeValues: { ":run": { S: runId } },
          ExclusiveStartKey: startKey,
          ConsistentRead: true,
        }),
        { abortSignal: signal },
      );
      for (const item of page.Items ?? []) {
        const sort = item.item?.S ?? "";
        const counts = item.counts?.S ? JSON.parse(item.counts.S) : undefined;
        if (sort.startsWith("chunk#")) {
          accounts += (counts as ChunkCounts).accounts;
          inactive += (counts as ChunkCounts).inactive;
        } else if (sort.startsWith("pairs#") || sort.startsWith("members#")) {
          const [kind, first, second] = sort.split("#");
          const region = (kind === "pairs" ? second : first) as string;
          const found = counts as RegionCounts;
          byRegion[region] ??= zero();
          const inRegion = byRegion[region];
          for (const [verdict, count] of Object.entries(found.byVerdict)) {
            byVerdict[verdict as Verdict] += count;
            inRegion[verdict as Verdict] += count;
          }
          for (const [verdict, count] of Object.entries(found.repairs))
            repairs[verdict as Verdict] = (repairs[verdict as Verdict] ?? 0) + count;
          notEnqueued += found.notEnqueued;
          waitingInDeadLetterQueue += found.waitingInDeadLetterQueue;
          if (found.failed) regionsFailed[region] = found.failed;
        }
      }
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return {
      accounts,
      inactive,
      byVerdict,
      byRegion,
      repairs,
      notEnqueued,
      waitingInDeadLetterQueue,
      regionsFailed,
    };
  }

  #key(runId: string, item: string): Record<string, AttributeValue> {
    return { runId: { S: runId }, item: { S: item } };
  }

  async #put(runId: string, item: string, values: Record<string, AttributeValue>, signal?: AbortSignal) {
    await this.#client.send(
      new PutItemCommand({
        TableName: this.#table,
        Item: { ...this.#key(runId, item), ...values, expiresAt: { N: this.#expiresAt() } },
      }),
      { abortSignal: signal },
    );
  }

  async #update(
    runId: string,
    clauses: { readonly set?: string; readonly add?: string },
    values: Record<string, AttributeValue>,
    signal?: AbortSignal,
  ): Promise<RunState> {
    const set = [clauses.set, "expiresAt = :expires"].filter(Boolean).join(", ");
    const { Attributes } = await this.#client.send(
      new UpdateItemCommand({
        TableName: this.#table,
        Key: this.#key(runId, RUN),
        UpdateExpression: `SET ${set}${clauses.add ? ` ADD ${clauses.add}` : ""}`,
        ConditionExpression: "attribute_exists(runId)",
        ExpressionAttributeValues: { ...values, ":expires": { N: this.#expiresAt() } },
        ReturnValues: "ALL_NEW",
      }),
      { abortSignal: signal },
    );
    return toRun(Attributes ?? {});
  }

  #expiresAt(): string {
    return String(Math.floor(this.#now() / 1000) + RUN_TTL_SECONDS);
  }
}

function pad(chunk: number): string {
  return String(chunk).padStart(6, "0");
}

function toRun(item: Record<string, AttributeValue>): RunState {
  return {
    runId: item.runId?.S ?? "",
    regions: (item.regions?.S ?? "").split(",").filter(Boolean),
    startedAt: item.startedAt?.S ?? "",
    chunks: item.chunks?.N === undefined ? undefined : Number(item.chunks.N),
    done: new Set(item.done?.SS ?? []),
    finishedAt: item.finishedAt?.S,
  };
}
