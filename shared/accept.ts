import { MemberAcceptance } from "./acceptance.ts";
import { type BatchResult, complete } from "./batch.ts";
import type { Clients } from "./clients.ts";
import type { AcceptConfig } from "./config.ts";
import { deadLetterRecorder } from "./dead-letter-index.ts";
import { dispatch } from "./dispatch.ts";
import { admissibleRegions } from "./managed-regions.ts";
import type { PipelineMetrics } from "./metrics.ts";
import { run, type SourceRecord } from "./plan.ts";
import type { Log } from "./report.ts";
import type { Outbound } from "./routing.ts";
import { acceptInvitations } from "./stages/accept-invitations.ts";
import { admit } from "./stages/admit.ts";
import { exhaustRetries } from "./stages/exhaust-retries.ts";

/**
 * The accept function's pipeline: the member side of invitation mode, fanned out on its own queue. Each
 * batch's member accounts are entered at once (each has its own GuardDuty quotas and its own session);
 * failures retry on the same queue with backoff, or are dead-lettered with a reason and the request that
 * resumes here. Accepted members go back to the onboard function's RetryQueue to have their plans verified.
 */

/** Member accounts entered at once by one invocation: the whole batch (its event source's batch size). */
export const ACCEPT_CONCURRENCY = 10;

export interface Acceptance {
  readonly config: AcceptConfig;
  readonly acceptance: MemberAcceptance;
  readonly send: (outbound: readonly Outbound[]) => Promise<Map<string, string>>;
  readonly logger: Log;
  readonly metrics?: PipelineMetrics;
  readonly now?: () => Date;
  readonly random?: () => number;
}

export function createAcceptance(
  config: AcceptConfig,
  clients: Clients,
  logger: Log,
  metrics?: PipelineMetrics,
): Acceptance {
  const urls = {
    retry: config.acceptQueueUrl,
    "dead-letter": config.deadLetterQueueUrl,
    accept: config.acceptQueueUrl,
    verify: config.retryQueueUrl,
  };
  const onDeadLettered = deadLetterRecorder(clients.dynamodb, config.deadLetterIndexTable, logger);
  return {
    config,
    logger,
    metrics,
    acceptance: new MemberAcceptance(clients.sts, clients.memberGuardDuty, config),
    send: (outbound) => dispatch(clients.sqs, urls, outbound, { onDeadLettered }),
  };
}

export async function acceptBatch(
  records: readonly SourceRecord[],
  deps: Acceptance,
  signal?: AbortSignal,
): Promise<BatchResult> {
  const { config } = deps;
  const at = (deps.now?.() ?? new Date()).toISOString();
  const plan = await run(
    admit(records, {
      ...config,
      regions: admissibleRegions(config.regions, config.partition),
      acceptOnly: true,
    }),
    [acceptInvitations(deps.acceptance, ACCEPT_CONCURRENCY), exhaustRetries(config.maxAttempts)],
    signal,
  );
  return complete(
    plan,
    {
      logger: deps.logger,
      metrics: deps.metrics,
      send: deps.send,
      routing: {
        retryBaseDelaySeconds: config.retryBaseDelaySeconds,
        handOffAcceptance: false,
        handOffVerification: true,
        retryTo: "accept",
        random: deps.random,
      },
    },
    at,
  );
}
