import {
  SendMessageBatchCommand,
  type SendMessageBatchRequestEntry,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import { describeError } from "./privacy.ts";
import type { Destination, Outbound } from "./routing.ts";

/** SendMessageBatch: ≤ 10 entries and ≤ 256 KiB of bodies per call (SQS API model). */
const MAX_ENTRIES = 10;
const MAX_BATCH_BYTES = 256 * 1024;

export type QueueUrls = Readonly<Record<Destination, string>>;

/**
 * Sends every outbound message and returns the source records whose sends were not all confirmed,
 * with why. `SendMessageBatch` answers HTTP 200 even when entries fail (`Failed[]`), so every entry
 * is checked; a record is only deleted from its source queue when none of its sends failed.
 */
export async function dispatch(
  sqs: SQSClient,
  urls: QueueUrls,
  outbound: readonly Outbound[],
): Promise<Map<string, string>> {
  const failed = new Map<string, string>();
  for (const destination of ["dead-letter", "retry"] as const) {
    const messages = outbound.filter((message) => message.destination === destination);
    for (const batch of batches(messages)) {
      const entries: SendMessageBatchRequestEntry[] = batch.map((message, index) => ({
        Id: String(index),
        MessageBody: message.body,
        DelaySeconds: message.delaySeconds,
      }));
      try {
        const answer = await sqs.send(
          new SendMessageBatchCommand({ QueueUrl: urls[destination], Entries: entries }),
        );
        const confirmed = new Set(answer.Successful?.map((entry) => entry.Id));
        for (const [index, message] of batch.entries()) {
          if (!confirmed.has(String(index))) {
            const entry = answer.Failed?.find((failure) => failure.Id === String(index));
            failed.set(
              message.sourceId,
              `${destination} send failed: ${entry?.Code ?? "unconfirmed"} ${entry?.Message ?? ""}`,
            );
          }
        }
      } catch (error) {
        for (const message of batch)
          failed.set(message.sourceId, `${destination} send failed: ${describeError(error)}`);
      }
    }
  }
  return failed;
}

/** Groups messages into SendMessageBatch calls within the entry and size limits. */
function batches(messages: readonly Outbound[]): Outbound[][] {
  const result: Outbound[][] = [];
  let current: Outbound[] = [];
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
