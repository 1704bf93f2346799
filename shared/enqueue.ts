import { SendMessageBatchCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { describeError } from "./privacy.ts";

/**
 * Puts onboarding requests on OnboardingQueue for backfill, reconcile and replay. Only a send SQS
 * confirmed counts: the caller deletes a replayed dead letter, or reports an account enqueued, only then.
 */

/** SendMessageBatch: ≤ 10 entries and ≤ 256 KiB of bodies per call (SQS API model). */
const MAX_ENTRIES = 10;
const MAX_BATCH_BYTES = 256 * 1024;

export interface QueueMessage {
  /** The caller's key for the message (an account id, a DLQ message id); unique within one call. */
  readonly key: string;
  readonly body: string;
}

export interface EnqueueResult {
  /** Keys whose send SQS confirmed. */
  readonly sent: string[];
  /** Keys whose send was not confirmed, with why. */
  readonly failed: Map<string, string>;
}

/**
 * Sends every message in batches of ≤ 10. `SendMessageBatch` answers HTTP 200 even when entries fail
 * (`Failed[]`), so each entry counts as sent only when it is listed in `Successful`.
 */
export async function enqueue(
  sqs: SQSClient,
  queueUrl: string,
  messages: readonly QueueMessage[],
  options: { readonly signal?: AbortSignal; readonly onBatch?: (sent: number) => void } = {},
): Promise<EnqueueResult> {
  const sent: string[] = [];
  const failed = new Map<string, string>();
  for (const batch of batches(messages)) {
    try {
      const answer = await sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: batch.map((message, index) => ({ Id: String(index), MessageBody: message.body })),
        }),
        { abortSignal: options.signal },
      );
      const confirmed = new Set(answer.Successful?.map((entry) => entry.Id));
      for (const [index, message] of batch.entries()) {
        if (confirmed.has(String(index))) {
          sent.push(message.key);
          continue;
        }
        const entry = answer.Failed?.find((failure) => failure.Id === String(index));
        failed.set(message.key, `${entry?.Code ?? "unconfirmed"} ${entry?.Message ?? ""}`.trim());
      }
    } catch (error) {
      // An error on the first call means nothing was sent (a missing queue, denied access, no
      // credentials): raised as it is, for the caller to explain. Later ones are recorded per message.
      if (sent.length === 0 && failed.size === 0) throw error;
      for (const message of batch) failed.set(message.key, describeError(error));
    }
    options.onBatch?.(sent.length);
  }
  return { sent, failed };
}

/** Groups messages into SendMessageBatch calls within the entry and size limits. */
function batches(messages: readonly QueueMessage[]): QueueMessage[][] {
  const result: QueueMessage[][] = [];
  let current: QueueMessage[] = [];
  let bytes = 0;
  for (const message of messages) {
    const size = Buffer.byteLength(message.body);
    if (current.length === MAX_ENTRIES || (current.length > 0 && bytes + size > MAX_BATCH_BYTES)) {
      result.push(current);
      current = [];
      bytes = 0;
    }
    current.push(message);
    bytes += size;
  }
  if (current.length > 0) result.push(current);
  return result;
}
