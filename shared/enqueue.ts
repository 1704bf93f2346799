import type { SQSClient } from "@aws-sdk/client-sqs";
import { describeError } from "./privacy.ts";
import { type BatchMessage, type BatchResult, batches, sendBatch } from "./sqs-batch.ts";

/**
 * Puts onboarding requests on OnboardingQueue for backfill, reconcile and replay. Only a send SQS
 * confirmed counts: the caller deletes a replayed dead letter, or reports an account enqueued, only then.
 */

export type QueueMessage = BatchMessage;
export type EnqueueResult = BatchResult;

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
      const result = await sendBatch(sqs, queueUrl, batch, options.signal);
      sent.push(...result.sent);
      for (const [key, why] of result.failed) failed.set(key, why);
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
