/**
 * Lambda's SQS event source, locally: the semantics of an event source mapping
 * (https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html) over a real SQS server.
 * - up to `maximumConcurrency` batches in flight, each in its own container;
 * - a batch closes at `batchSize` records or when the batching window, opened by its first record, ends;
 * - with `ReportBatchItemFailures`, every record not named in `batchItemFailures` is deleted; an
 *   invalid response, an error, a timeout or a crash deletes nothing;
 * - records that are not deleted reappear after the queue's visibility timeout, and the SQS server
 *   itself redrives them to the dead-letter queue after `maxReceiveCount` receives.
 * Faults can be injected for chaos runs: container crashes mid-batch and lost deletes (which make SQS
 * deliver a record again, as its at-least-once delivery may).
 */
import {
  DeleteMessageBatchCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import type { SQSRecord } from "aws-lambda";
import { Container, type ContainerOptions } from "./container.ts";
import type { EventSourceDefinition } from "./stack.ts";

export interface EventSourceFaults {
  /** Share of invocations whose container crashes mid-batch (at a random point of its first 500 ms). */
  readonly crashRate?: number;
  /** Or: a signal per invocation (numbered from 0) that crashes its container when it fires. */
  readonly crashSignal?: (invocation: number) => AbortSignal | undefined;
  /** Share of processed records whose delete is "lost", so SQS delivers them again. */
  readonly duplicateRate?: number;
  /** Random source for the faults (seeded by the caller). */
  readonly random?: () => number;
}

export interface EventSourceStats {
  invocations: number;
  records: number;
  failedInvocations: number;
  crashes: number;
  timeouts: number;
  partialFailures: number;
  lostDeletes: number;
  coldStarts: number;
}

/** Zeroed statistics (also the start of a sum over several event sources). */
export function emptyStats(): EventSourceStats {
  return {
    invocations: 0,
    records: 0,
    failedInvocations: 0,
    crashes: 0,
    timeouts: 0,
    partialFailures: 0,
    lostDeletes: 0,
    coldStarts: 0,
  };
}

export class LocalEventSource {
  readonly stats: EventSourceStats = emptyStats();
  readonly #sqs: SQSClient;
  readonly #queueUrl: string;
  readonly #queueArn: string;
  readonly #settings: EventSourceDefinition;
  readonly #container: ContainerOptions;
  readonly #faults: EventSourceFaults;
  readonly #onError: (message: string) => void;
  #running = false;
  #busy = 0;
  #longestInvocationMs = 0;
  #loops: Promise<void>[] = [];

  constructor(options: {
    sqs: SQSClient;
    queueUrl: string;
    queueArn: string;
    settings: EventSourceDefinition;
    container: ContainerOptions;
    faults?: EventSourceFaults;
    onError?: (message: string) => void;
  }) {
    this.#sqs = options.sqs;
    this.#queueUrl = options.queueUrl;
    this.#queueArn = options.queueArn;
    this.#settings = options.settings;
    this.#container = options.container;
    this.#faults = options.faults ?? {};
    this.#onError = options.onError ?? (() => undefined);
  }

  /** Batches being gathered or processed right now. */
  /** The source queue's logical id (e.g. `ReconcileQueue`). */
  get queue(): string {
    return this.#settings.queue;
  }

  /** The longest invocation so far, in ms (the bench compares it with the function's timeout). */
  get longestInvocationMs(): number {
    return this.#longestInvocationMs;
  }

  get busy(): number {
    return this.#busy;
  }

  start(): void {
    this.#running = true;
    this.#loops = Array.from({ length: this.#settings.maximumConcurrency }, () => this.#poll());
  }

  async stop(): Promise<void> {
    this.#running = false;
    await Promise.all(this.#loops);
  }

  async #poll(): Promise<void> {
    let container: Container | undefined;
    while (this.#running) {
      try {
        const batch = await this.#gather();
        if (batch.length === 0) continue;
        this.#busy++;
        try {
          if (!container?.alive) {
            container = await Container.start(this.#container);
            this.stats.coldStarts++;
          }
          await this.#process(container, batch);
        } finally {
          this.#busy--;
        }
      } catch (error) {
        this.#onError(`event source ${this.#settings.queue}: ${String((error as Error)?.message ?? error)}`);
        await sleep(200);
      }
    }
    await container?.terminate();
  }

  /** Receives up to `batchSize` records; the batching window opens with the first record. */
  async #gather(): Promise<Message[]> {
    const batch: Message[] = [];
    let closesAt = Number.POSITIVE_INFINITY;
    while (this.#running && batch.length < this.#settings.batchSize && Date.now() < closesAt) {
      const { Messages = [] } = await this.#sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: this.#queueUrl,
          MaxNumberOfMessages: Math.min(10, this.#settings.batchSize - batch.length),
          WaitTimeSeconds: 1,
          MessageSystemAttributeNames: ["All"],
          MessageAttributeNames: ["All"],
        }),
      );
      if (Messages.length > 0 && batch.length === 0) {
        closesAt = Date.now() + this.#settings.maximumBatchingWindowSeconds * 1000;
      }
      batch.push(...Messages);
      if (batch.length === 0) return batch;
    }
    return batch;
  }

  async #process(container: Container, messages: Message[]): Promise<void> {
    const random = this.#faults.random ?? Math.random;
    const records = messages.map((message) => this.#record(message));
    const crash =
      this.#faults.crashSignal?.(this.stats.invocations) ??
      (random() < (this.#faults.crashRate ?? 0)
        ? AbortSignal.timeout(Math.floor(random() * 500))
        : undefined);
    this.stats.invocations++;
    this.stats.records += records.length;
    const started = performance.now();
    const outcome = await container.invoke({ Records: records }, crash);
    this.#longestInvocationMs = Math.max(this.#longestInvocationMs, performance.now() - started);
    if (!outcome.ok) {
      this.stats.failedInvocations++;
      if (outcome.kind === "crash") this.stats.crashes++;
      if (outcome.kind === "timeout") this.stats.timeouts++;
      if (outcome.kind === "error") this.#onError(`invocation failed: ${outcome.error.split("\n")[0]}`);
      return; // nothing deleted: every record reappears after the visibility timeout
    }
    const failed = this.#failedIds(outcome.result, records);
    if (failed === "all") {
      this.stats.failedInvocations++;
      return;
    }
    if (failed.size > 0) this.stats.partialFailures++;
    const done = messages.filter((message) => !failed.has(message.MessageId as string));
    const deletes = done.filter(() => {
      const lost = random() < (this.#faults.duplicateRate ?? 0);
      if (lost) this.stats.lostDeletes++;
      return !lost;
    });
    for (let start = 0; start < deletes.length; start += 10) {
      await this.#sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: this.#queueUrl,
          Entries: deletes
            .slice(start, start + 10)
            .map((message, index) => ({ Id: String(index), ReceiptHandle: message.ReceiptHandle })),
        }),
      );
    }
  }

  /**
   * The records to keep, from a partial batch response. As in Lambda, a response naming an unknown or
   * empty item identifier fails the whole batch.
   */
  #failedIds(result: unknown, records: readonly SQSRecord[]): Set<string> | "all" {
    if (!this.#settings.reportBatchItemFailures) return new Set();
    const failures = (result as { batchItemFailures?: { itemIdentifier?: string }[] } | null)
      ?.batchItemFailures;
    if (failures === undefined) return new Set();
    if (!Array.isArray(failures)) return "all";
    const ids = new Set(records.map((record) => record.messageId));
    const failed = new Set<string>();
    for (const failure of failures) {
      if (!failure?.itemIdentifier || !ids.has(failure.itemIdentifier)) return "all";
      failed.add(failure.itemIdentifier);
    }
    return failed;
  }

  #record(message: Message): SQSRecord {
    const attributes = message.Attributes ?? {};
    return {
      messageId: message.MessageId as string,
      receiptHandle: message.ReceiptHandle as string,
      body: message.Body ?? "",
      attributes: {
        ApproximateReceiveCount: attributes.ApproximateReceiveCount ?? "1",
        SentTimestamp: attributes.SentTimestamp ?? String(Date.now()),
        SenderId: attributes.SenderId ?? "local",
        ApproximateFirstReceiveTimestamp: attributes.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
      },
      messageAttributes: {},
      md5OfBody: message.MD5OfBody ?? "",
      eventSource: "aws:sqs",
      eventSourceARN: this.#queueArn,
      awsRegion: "us-east-1",
    };
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
