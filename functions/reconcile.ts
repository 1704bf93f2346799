import { Logger } from "@aws-lambda-powertools/logger";
import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import { Metrics } from "@aws-lambda-powertools/metrics";
import middy from "@middy/core";
import type { ScheduledEvent, SQSEvent } from "aws-lambda";
import type { BatchResult } from "#shared/batch";
import { createClients } from "#shared/clients";
import { DeadLetterIndex } from "#shared/dead-letter-index";
import { PipelineMetrics } from "#shared/metrics";
import { loadReconcileConfig, type Reconciler, runUnits, startRun, unitDeadline } from "#shared/reconcile";
import { ReconcileRuns } from "#shared/reconcile-runs";

// Built once per container: config is validated at cold start and fails naming the bad variable.
const logger = new Logger({ serviceName: "guardduty-onboarding" });
const metrics = new PipelineMetrics(new Metrics({ serviceName: "guardduty-onboarding" }));
const config = loadReconcileConfig();
const clients = createClients({ requestTimeoutMs: config.sdkRequestTimeoutMs, observe: metrics.observe });
const reconciler: Reconciler = {
  clients,
  runs: new ReconcileRuns(clients.dynamodb, config.runsTable),
  deadLetters: config.deadLetterIndexTable
    ? new DeadLetterIndex(clients.dynamodb, config.deadLetterIndexTable)
    : undefined,
  config,
  logger,
  metrics,
};

/**
 * The schedule starts a run; ReconcileQueue delivers its units (shared/reconcile.ts). Wiring only.
 * middy aborts `signal` just before the deadline; a unit also stops starting new work well before it.
 */
export const handler = middy<ScheduledEvent | SQSEvent, unknown>({ timeoutEarlyInMillis: 1_000 })
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .handler(
    (event, context, { signal }): Promise<unknown> =>
      "Records" in event
        ? (runUnits(event.Records, reconciler, {
            deadline: unitDeadline(context.getRemainingTimeInMillis()),
            signal,
          }) satisfies Promise<BatchResult>)
        : startRun(reconciler, event.id, signal),
  );
