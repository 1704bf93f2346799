import type { PipelineMetrics } from "./metrics.ts";
import type { Plan } from "./plan.ts";
import { type Log, report } from "./report.ts";
import { type Outbound, type RoutingPolicy, route } from "./routing.ts";

/** Lambda's partial batch response (`ReportBatchItemFailures`). */
export interface BatchResult {
  batchItemFailures: { itemIdentifier: string }[];
}

export interface Completion {
  readonly logger: Log;
  readonly metrics?: PipelineMetrics;
  readonly routing: RoutingPolicy;
  /** Sends routed messages; answers the source ids whose sends were not confirmed, with why. */
  readonly send: (outbound: readonly Outbound[]) => Promise<Map<string, string>>;
}

/**
 * The end of every batch, for every function: report each final cell once, route it, send, and keep on
 * its queue every record whose sends were not all confirmed — nothing is deleted before it is safe.
 */
export async function complete(plan: Plan, completion: Completion, at: string): Promise<BatchResult> {
  const { logger, metrics } = completion;
  report(plan, logger, metrics);
  const failed = await completion.send(route(plan, completion.routing, at));
  metrics?.publish();
  for (const [messageId, detail] of failed) {
    logger.error("outcome not durable; the message stays on its queue for redelivery", { messageId, detail });
  }
  return { batchItemFailures: [...failed.keys()].map((itemIdentifier) => ({ itemIdentifier })) };
}

/**
 * An abort signal for the AWS calls of one invocation that fires `reserveMs` before the deadline, so
 * that the routing sends still fit: a batch ends cleanly, with its accounts retried, before Lambda kills it.
 */
export function deadlineSignal(remainingMs: number, reserveMs: number): AbortSignal {
  return AbortSignal.timeout(Math.max(1, remainingMs - reserveMs));
}
