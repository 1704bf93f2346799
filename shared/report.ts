import type { Logger } from "@aws-lambda-powertools/logger";
import type { PipelineMetrics } from "./metrics.ts";
import { levelOf } from "./outcomes.ts";
import type { Plan } from "./plan.ts";

/** The slice of Powertools' Logger the pipeline uses. */
export type Log = Pick<Logger, "info" | "warn" | "error">;

/**
 * The one reporter: every final cell and every note becomes one log line and one count of its outcome,
 * so that nothing is logged without being counted, or counted twice. Never an e-mail: cells carry it,
 * lines do not.
 */
export function report(plan: Plan, logger: Log, metrics?: PipelineMetrics): void {
  for (const { messageId, request, region, outcome } of plan.cells) {
    if (!outcome) throw new Error(`undecided cell ${request.accountId}/${region}: every stage ran?`);
    metrics?.outcome(outcome.outcome, outcome.reason, request.attempt);
    logger[levelOf(outcome.outcome)]("account outcome", {
      accountId: request.accountId,
      region,
      outcome: outcome.outcome,
      reason: outcome.reason,
      detail: outcome.detail,
      step: outcome.step,
      attempt: request.attempt,
      origin: request.origin,
      messageId,
      correlationId: request.correlationId,
    });
  }
  for (const note of plan.notes) {
    metrics?.outcome(note.outcome, note.reason, note.attempt ?? 0);
    logger[levelOf(note.outcome)]("message outcome", {
      messageId: note.messageId,
      accountId: note.accountId,
      outcome: note.outcome,
      reason: note.reason,
      detail: note.detail,
      attempt: note.attempt,
      correlationId: note.correlationId,
    });
  }
}
