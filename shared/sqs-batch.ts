import { SendMessageBatchCommand, type SQSClient } from "@aws-sdk/client-sqs";

/** SendMessageBatch: ≤ 10 entries and ≤ 256 KiB of bodies per call (SQS API model). */
const MAX_ENTRIES = 10;
const MAX_BATCH_BYTES = 256 * 1024;

export interface BatchMessage {
  /** The caller's key for the message (a source message id, an account id); unique within one call. */
  readonly key: string;
  readonly body: string;
  readonly delaySeconds?: number;
}

export interface BatchResult {
  /** Keys whose send SQS confirmed. */
  readonly sent: string[];
  /** Keys whose send was not confirmed, with why. */
  readonly failed: Map<string, string>;
}

/** Groups messages into SendMessageBatch calls within the entry and size limits. */
export function batches<T extends BatchMessage>(messages: readonly T[]): T[][] {
  const result: T[][] = [];
  let current: T[] = [];
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

/**
 * Sends one batch. `SendMessageBatch` answers HTTP 200 even when entries fail (`Failed[]`), so an entry
 * counts as sent only when it is listed in `Successful`. An error of the call itself is thrown.
 */
export async function sendBatch(
  sqs: SQSClient,
  queueUrl: string,
  batch: readonly BatchMessage[],
  signal?: AbortSignal,
): Promise<BatchResult> {
  const answer = await sqs.send(
    new SendMessageBatchCommand({
      QueueUrl: queueUrl,
      Entries: batch.map((message, index) => ({
        Id: String(index),
        MessageBody: message.body,
        DelaySeconds: message.delaySeconds,
      })),
    }),
    { abortSignal: signal },
  );
  const confirmed = new Set(answer.Successful?.map((entry) => entry.Id));
  const sent: string[] = [];
  const failed = new Map<string, string>();
  for (const [index, message] of batch.entries()) {
    if (confirmed.has(String(index))) {
      sent.push(message.key);
      continue;
    }
    const entry = answer.Failed?.find((failure) => failure.Id === String(index));
    failed.set(message.key, `${entry?.Code ?? "unconfirmed"} ${entry?.Message ?? ""}`.trim());
  }
  return { sent, failed };
}
