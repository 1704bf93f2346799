import { Logger } from "@aws-lambda-powertools/logger";
import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import { Metrics } from "@aws-lambda-powertools/metrics";
import middy from "@middy/core";
import type { SQSEvent } from "aws-lambda";
import { acceptBatch, createAcceptance } from "#shared/accept";
import { type BatchResult, deadlineSignal } from "#shared/batch";
import { createClients } from "#shared/clients";
import { loadAcceptConfig } from "#shared/config";
import { PipelineMetrics } from "#shared/metrics";

/** Time kept back from the AWS calls for routing sends to the accept and dead-letter queues. */
const ROUTING_RESERVE_MS = 10_000;

// Built once per container: config is validated at cold start and fails naming the bad variable.
const logger = new Logger({ serviceName: "guardduty-onboarding" });
const metrics = new PipelineMetrics(new Metrics({ serviceName: "guardduty-onboarding" }));
const config = loadAcceptConfig();
const acceptance = createAcceptance(
  config,
  createClients({ requestTimeoutMs: config.sdkRequestTimeoutMs, observe: metrics.observe }),
  logger,
  metrics,
);

/** SQS (AcceptQueue) → member accounts accept the administrator's invitation. Wiring only. */
export const handler = middy<SQSEvent, BatchResult>({ timeoutEarlyInMillis: 1_000 })
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .handler((event, context) =>
    acceptBatch(
      event.Records,
      acceptance,
      deadlineSignal(context.getRemainingTimeInMillis(), ROUTING_RESERVE_MS),
    ),
  );
