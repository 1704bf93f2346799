import { type BackfillReport, backfill } from "./backfill.ts";
import type { Clients } from "./clients.ts";
import { loadStageConfig, url } from "./config.ts";
import type { PipelineMetrics } from "./metrics.ts";
import type { Log } from "./report.ts";

/**
 * The scheduled reconciliation: CloudTrail-to-EventBridge delivery is best effort, so once a day (stage
 * parameter `reconcileSchedule`) the organization is compared with the members of every region, and
 * what is missing is enqueued — the same code as `gd-onboard backfill`, with origin `reconcile`.
 */

export interface ReconcileConfig {
  readonly regions: readonly string[];
  readonly onboardingQueueUrl: string;
  readonly administratorAccountId?: string;
  readonly sdkRequestTimeoutMs: number;
}

type Env = Readonly<Record<string, string | undefined>>;

/** Reads the stage configuration the reconcile function needs; fails fast naming the variable. */
export function loadReconcileConfig(env: Env = process.env): ReconcileConfig {
  const { regions, administratorAccountId, sdkRequestTimeoutMs } = loadStageConfig(env);
  return {
    regions,
    onboardingQueueUrl: url(env, "ONBOARDING_QUEUE_URL"),
    administratorAccountId,
    sdkRequestTimeoutMs,
  };
}

/**
 * One reconciliation run. The drift is logged as one structured line of counts (never an account's
 * e-mail); regions that could not be compared and requests that could not be enqueued are logged as
 * errors, and the next run picks them up again.
 */
export async function reconcile(
  clients: Pick<Clients, "organizations" | "guardduty" | "sqs">,
  config: ReconcileConfig,
  logger: Log,
  options: {
    readonly correlationId?: string;
    readonly signal?: AbortSignal;
    readonly now?: () => Date;
    /** `DriftFound`: (account, region) pairs missing a membership, published once per run. */
    readonly metrics?: PipelineMetrics;
  } = {},
): Promise<BackfillReport> {
  const report = await backfill(clients, {
    regions: config.regions,
    onboardingQueueUrl: config.onboardingQueueUrl,
    administratorAccountId: config.administratorAccountId,
    origin: "reconcile",
    ...options,
  });
  const { drift } = report.plan;
  options.metrics?.count("DriftFound", undefined, drift.missing);
  options.metrics?.publish();
  logger[drift.missing > 0 ? "warn" : "info"]("reconcile drift", {
    ...drift,
    enqueued: report.enqueued.length,
    notEnqueued: Object.keys(report.failed).length,
    regionsWithoutDetector: report.regionsWithoutDetector,
    correlationId: options.correlationId,
  });
  if (report.regionsWithoutDetector.length > 0) {
    logger.warn("GuardDuty is not enabled for the administrator in these regions: nothing can join there", {
      regions: report.regionsWithoutDetector,
    });
  }
  for (const [region, detail] of Object.entries(report.regionsFailed)) {
    logger.error("members could not be listed; the region was left out of this run", { region, detail });
  }
  for (const [accountId, detail] of Object.entries(report.failed)) {
    logger.error("request not enqueued; the next run enqueues it again", { accountId, detail });
  }
  return report;
}
