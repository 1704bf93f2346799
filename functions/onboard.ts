import { Logger } from "@aws-lambda-powertools/logger";
import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import { Metrics } from "@aws-lambda-powertools/metrics";
import middy from "@middy/core";
import type { SQSEvent } from "aws-lambda";
import { type BatchResult, deadlineSignal } from "#shared/batch";
import { createClients } from "#shared/clients";
import { loadConfig } from "#shared/config";
import { PipelineMetrics } from "#shared/metrics";
import { createOnboarding, onboardBatch } from "#shared/onboard";

/** Time kept back from the AWS calls for routing sends to the retry and dead-letter queues. */
const ROUTING_RESERVE_MS = 10_000;

// Built once per container: config is validated at cold start and fails naming the bad variable.
const logger = new Logger({ serviceName: "guardduty-onboarding" });
// Namespace from POWERTOOLS_METRICS_NAMESPACE (stage parameter `metricsNamespace`).
const metrics = new PipelineMetrics(new Metrics({ serviceName: "guardduty-onboarding" }));
const config = loadConfig();
const onboarding = createOnboarding(
  config,
  createClients({ requestTimeoutMs: config.sdkRequestTimeoutMs, observe: metrics.observe }),
  logger,
  metrics,
);

/** SQS (OnboardingQueue, RetryQueue) → GuardDuty members. Wiring only: the decisions live in `shared/`. */
export const handler = middy<SQSEvent, BatchResult>({ timeoutEarlyInMillis: 1_000 })
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .handler((event, context) =>
    onboardBatch(
      event.Records,
      onboarding,
      deadlineSignal(context.getRemainingTimeInMillis(), ROUTING_RESERVE_MS),
    ),
  );
