import { Logger } from "@aws-lambda-powertools/logger";
import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import { Metrics } from "@aws-lambda-powertools/metrics";
import middy from "@middy/core";
import type { ScheduledEvent } from "aws-lambda";
import { createClients } from "#shared/clients";
import { PipelineMetrics } from "#shared/metrics";
import { loadReconcileConfig, type ReconcileReport, reconcile } from "#shared/reconcile";

// Built once per container: config is validated at cold start and fails naming the bad variable.
const logger = new Logger({ serviceName: "guardduty-onboarding" });
const metrics = new PipelineMetrics(new Metrics({ serviceName: "guardduty-onboarding" }));
const config = loadReconcileConfig();
const clients = createClients({ requestTimeoutMs: config.sdkRequestTimeoutMs, observe: metrics.observe });

/** Schedule → every (account, region) its coverage verdict → repairs on OnboardingQueue, Coverage metric. Wiring only. */
export const handler = middy<ScheduledEvent, ReconcileReport>({ timeoutEarlyInMillis: 1_000 })
  .use(injectLambdaContext(logger, { resetKeys: true }))
  // middy aborts `signal` just before the deadline: the run ends with an error, and the next one resumes.
  .handler((event, _context, { signal }) =>
    reconcile(clients, config, logger, { correlationId: event.id, signal, metrics }),
  );
