import type { SQSClient } from "@aws-sdk/client-sqs";
import { asDeadLetter } from "./dead-letter.ts";
import type { DeadLettered } from "./dead-letter-index.ts";
import { describeError } from "./privacy.ts";
import type { Destination, Outbound } from "./routing.ts";
import { batches, sendBatch } from "./sqs-batch.ts";

export type QueueUrls = Readonly<Record<Destination, string>>;

/**
 * Sends every outbound message and returns the source records whose sends were not all confirmed,
 * with why (per-entry failures under HTTP 200 included). A record is only deleted from its source
 * queue when none of its sends failed.
 */
export async function dispatch(
  sqs: SQSClient,
  urls: QueueUrls,
  outbound: readonly Outbound[],
  options: {
    /** The (account, region) dead letters SQS confirmed (`dead-letter-index.ts` records them). */
    readonly onDeadLettered?: (pairs: readonly DeadLettered[]) => Promise<void>;
  } = {},
): Promise<Map<string, string>> {
  const failed = new Map<string, string>();
  const deadLettered: DeadLettered[] = [];
  for (const destination of ["dead-letter", "retry", "accept", "verify"] as const) {
    // A source record may route several messages: keys are their positions, mapped back to the record.
    const messages = outbound
      .filter((message) => message.destination === destination)
      .map((message, index) => ({ ...message, key: String(index) }));
    for (const batch of batches(messages)) {
      const sourceOf = (key: string) => messages[Number(key)]?.sourceId as string;
      try {
        const result = await sendBatch(sqs, urls[destination], batch);
        for (const [key, why] of result.failed)
          failed.set(sourceOf(key), `${destination} send failed: ${why}`);
        if (destination === "dead-letter")
          for (const key of result.sent) {
            const letter = asDeadLetter(JSON.parse(messages[Number(key)]?.body ?? "null"));
            if (letter?.accountId && letter.region)
              deadLettered.push({
                accountId: letter.accountId,
                region: letter.region,
                reason: letter.reason,
              });
          }
      } catch (error) {
        for (const { key } of batch)
          failed.set(sourceOf(key), `${destination} send failed: ${describeError(error)}`);
      }
    }
  }
  if (deadLettered.length > 0) await options.onDeadLettered?.(deadLettered);
  return failed;
}
