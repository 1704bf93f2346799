import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ListMessageMoveTasksCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
  StartMessageMoveTaskCommand,
} from "@aws-sdk/client-sqs";
import { chunk } from "#shared/concurrency";
import { type DeadLetterView, readDeadLetter } from "#shared/dead-letters";
import { describeError } from "#shared/privacy";
import type { Context } from "./command.ts";
import { explain, UsageError } from "./errors.ts";
import { type CliClients, resolveTarget, type Target, type TargetFlags } from "./target.ts";

/**
 * Reading and emptying the DeadLetterQueue without losing anything. SQS has no "peek": a message is
 * read by receiving it, which hides it for a visibility timeout. So every read hides what it has seen
 * (that is how a scan reaches the end of the queue) and hands back, at the end, whatever it did not
 * delete — visible again at once, not after the timeout, so a `dlq replay` right after a `dlq list`
 * sees every message.
 */

/** ReceiveMessage, DeleteMessageBatch and ChangeMessageVisibilityBatch: ≤ 10 messages a call (SQS API model). */
const MAX_MESSAGES_PER_CALL = 10;
/**
 * A short poll samples a subset of SQS's servers and may answer empty while messages remain; a long
 * poll asks all of them. So a scan short-polls while messages come, and an empty answer is confirmed
 * by a 1 s long poll before the scan ends.
 */
const CONFIRM_WAIT_SECONDS = 1;
/** How often the state of a message move task is read. */
const MOVE_POLL_MS = 1_000;

export interface Received {
  readonly view: DeadLetterView;
  readonly receiptHandle: string;
}

export class DeadLetterQueue {
  readonly #sqs: SQSClient;
  readonly url: string;
  /** Receipt handles of every message received and not deleted yet, by message id. */
  readonly #held = new Map<string, string>();

  constructor(sqs: SQSClient, url: string) {
    this.#sqs = sqs;
    this.url = url;
  }

  /**
   * Receives the queue to its end, one batch of ≤ 10 at a time, each message once. Each stays hidden
   * for `visibilitySeconds` unless deleted or given back with {@link release}.
   */
  async *scan(visibilitySeconds: number): AsyncGenerator<Received[]> {
    let waitSeconds = 0;
    for (;;) {
      const { Messages = [] } = await this.#sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: this.url,
          MaxNumberOfMessages: MAX_MESSAGES_PER_CALL,
          WaitTimeSeconds: waitSeconds,
          VisibilityTimeout: visibilitySeconds,
          // `AttributeNames` is the older name of the same parameter; local-aws-sqs reads only that one.
          AttributeNames: ["All"],
          MessageSystemAttributeNames: ["All"],
        }),
      );
      if (Messages.length === 0 && waitSeconds > 0) return;
      waitSeconds = Messages.length === 0 ? CONFIRM_WAIT_SECONDS : 0;
      const batch: Received[] = [];
      for (const message of Messages) {
        if (!message.MessageId || !message.ReceiptHandle) continue;
        const seen = this.#held.has(message.MessageId);
        this.#held.set(message.MessageId, message.ReceiptHandle);
        // Seen before: its hiding ran out during a long scan. Only its newest receipt handle counts.
        if (!seen)
          batch.push({ view: readDeadLetter(toQueued(message)), receiptHandle: message.ReceiptHandle });
      }
      if (batch.length > 0) yield batch;
    }
  }

  /** Every message of the queue, read and given back at once. */
  async peek(): Promise<DeadLetterView[]> {
    const views: DeadLetterView[] = [];
    try {
      for await (const batch of this.scan(60)) views.push(...batch.map(({ view }) => view));
    } finally {
      await this.release();
    }
    return views;
  }

  /**
   * Deletes messages by id; answers the ids whose delete SQS did not confirm, with why (per entry:
   * DeleteMessageBatch answers HTTP 200 even when entries fail).
   */
  async delete(messageIds: readonly string[]): Promise<Map<string, string>> {
    const failed = new Map<string, string>();
    for (const part of chunk(messageIds, MAX_MESSAGES_PER_CALL)) {
      try {
        const answer = await this.#sqs.send(
          new DeleteMessageBatchCommand({
            QueueUrl: this.url,
            Entries: part.map((id, index) => ({
              Id: String(index),
              ReceiptHandle: this.#held.get(id) ?? "",
            })),
          }),
        );
        const confirmed = new Set(answer.Successful?.map((entry) => entry.Id));
        for (const [index, id] of part.entries()) {
          if (confirmed.has(String(index))) this.#held.delete(id);
          else {
            const entry = answer.Failed?.find((failure) => failure.Id === String(index));
            failed.set(id, `${entry?.Code ?? "unconfirmed"} ${entry?.Message ?? ""}`.trim());
          }
        }
      } catch (error) {
        for (const id of part) failed.set(id, describeError(error));
      }
    }
    return failed;
  }

  /**
   * Makes every held message visible again now. Best effort: a message whose release fails becomes
   * visible by itself when its visibility timeout runs out.
   */
  async release(): Promise<void> {
    const handles = [...this.#held.values()];
    this.#held.clear();
    for (const part of chunk(handles, MAX_MESSAGES_PER_CALL)) {
      await this.#sqs
        .send(
          new ChangeMessageVisibilityBatchCommand({
            QueueUrl: this.url,
            Entries: part.map((handle, index) => ({
              Id: String(index),
              ReceiptHandle: handle,
              VisibilityTimeout: 0,
            })),
          }),
        )
        .catch(() => undefined);
    }
  }

  /**
   * Moves every message to `destinationUrl` with SQS's own redrive (`StartMessageMoveTask`, bodies
   * verbatim, ≤ 500 messages/s, one task per queue at a time) and waits until the task ends.
   */
  async moveAll(
    destinationUrl: string,
    onProgress?: (moved: number, toMove: number) => void,
  ): Promise<{ readonly moved: number }> {
    const [sourceArn, destinationArn] = await Promise.all([this.#arn(this.url), this.#arn(destinationUrl)]);
    await this.#sqs.send(
      new StartMessageMoveTaskCommand({ SourceArn: sourceArn, DestinationArn: destinationArn }),
    );
    for (;;) {
      await new Promise((resolve) => setTimeout(resolve, MOVE_POLL_MS));
      // The newest task comes first.
      const { Results = [] } = await this.#sqs.send(
        new ListMessageMoveTasksCommand({ SourceArn: sourceArn, MaxResults: 1 }),
      );
      const task = Results[0];
      const moved = task?.ApproximateNumberOfMessagesMoved ?? 0;
      onProgress?.(moved, task?.ApproximateNumberOfMessagesToMove ?? 0);
      if (task?.Status === "RUNNING" || task?.Status === "CANCELLING") continue;
      if (task?.Status === "COMPLETED") return { moved };
      throw new Error(
        `the message move task ended ${task?.Status ?? "without a state"}` +
          `${task?.FailureReason ? ` (${task.FailureReason})` : ""} after moving ${moved} messages`,
      );
    }
  }

  async #arn(queueUrl: string): Promise<string> {
    const { Attributes = {} } = await this.#sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ["QueueArn"] }),
    );
    if (!Attributes.QueueArn) throw new Error(`SQS returned no ARN for ${queueUrl}`);
    return Attributes.QueueArn;
  }
}

/** The target's DeadLetterQueue, for a `dlq` command. */
export async function openDeadLetterQueue(
  values: Record<string, unknown>,
  context: Context,
): Promise<{ target: Target; clients: CliClients; dlq: DeadLetterQueue }> {
  const { target, clients } = await resolveTarget(values as TargetFlags, context.env, context.clientsFor);
  if (!target.deadLetterQueueUrl) {
    throw new UsageError(`no DeadLetterQueue URL for ${target.label}: pass --dead-letter-queue-url`);
  }
  return { target, clients, dlq: new DeadLetterQueue(clients.sqs, target.deadLetterQueueUrl) };
}

/** Every DLQ message, given back at once; SQS errors explained with the queue's URL. */
export async function readAll(dlq: DeadLetterQueue, target: Target): Promise<DeadLetterView[]> {
  try {
    return await dlq.peek();
  } catch (error) {
    throw explain(error, { queueUrl: dlq.url, local: target.local });
  }
}

function toQueued(message: Message) {
  const attributes = message.Attributes ?? {};
  const number = (value: string | undefined) => (value === undefined ? undefined : Number(value));
  return {
    messageId: message.MessageId as string,
    body: message.Body ?? "",
    receiveCount: number(attributes.ApproximateReceiveCount),
    sentAt: number(attributes.SentTimestamp),
    sourceQueueArn: attributes.DeadLetterQueueSourceArn,
  };
}
