import type { Clients } from "./clients.ts";
import { loadMembership, loadStageConfig, type MembershipMode, url } from "./config.ts";
import {
  type CoverageReport,
  type PairVerdict,
  readCoverage,
  repairRequests,
  UNDESIRED,
  VERDICTS,
} from "./coverage.ts";
import { enqueue } from "./enqueue.ts";
import { type RegionsSetting, resolveManagedRegions } from "./managed-regions.ts";
import type { OnboardingRequest } from "./message.ts";
import type { PipelineMetrics } from "./metrics.ts";
import type { Profile } from "./protection.ts";
import type { Log } from "./report.ts";

/**
 * The scheduled reconciliation: CloudTrail-to-EventBridge delivery is best effort and members change
 * after they were onboarded (resigned, removed, monitoring stopped, plans changed), so once a day (stage
 * parameter `reconcileSchedule`) every (account, region) the stage is responsible for gets its coverage
 * verdict (`coverage.ts`), one repair request per (account, repair) goes onto OnboardingQueue with
 * origin `reconcile`, and `Coverage` — protected pairs ÷ desired pairs, 0–1 — is published.
 */

export interface ReconcileConfig {
  /** A list, or `all`: discovered at the start of every run (`managed-regions.ts`). */
  readonly regions: RegionsSetting;
  readonly partition: string;
  readonly onboardingQueueUrl: string;
  readonly administratorAccountId?: string;
  readonly sdkRequestTimeoutMs: number;
  readonly protection: Profile;
  readonly mode: MembershipMode;
  /** Invitation mode with the member side on: an invited member's repair is its acceptance. */
  readonly acceptInvitations: boolean;
}

type Env = Readonly<Record<string, string | undefined>>;

/** Reads the stage configuration the reconcile function needs; fails fast naming the variable. */
export function loadReconcileConfig(env: Env = process.env): ReconcileConfig {
  const { regions, partition, administratorAccountId, sdkRequestTimeoutMs, protection } =
    loadStageConfig(env);
  // The onboard function's own reading of the mode and of the member side, so both agree.
  const { mode, acceptInvitations } = loadMembership(env);
  return {
    regions,
    partition,
    onboardingQueueUrl: url(env, "ONBOARDING_QUEUE_URL"),
    administratorAccountId,
    sdkRequestTimeoutMs,
    protection,
    mode,
    acceptInvitations,
  };
}

export interface ReconcileReport {
  readonly coverage: CoverageReport;
  /** One per (account, repair), in the order of the pairs. */
  readonly requests: readonly OnboardingRequest[];
  /** Keys (`<account id>-<repair>`) of the requests SQS confirmed. */
  readonly enqueued: readonly string[];
  /** Keys of the requests not confirmed, with why. */
  readonly failed: Readonly<Record<string, string>>;
}

/**
 * One reconciliation run. The coverage is logged as one structured line of counts (never an account's
 * e-mail); regions that could not be read and requests that could not be enqueued are logged as
 * errors, and the next run picks them up again. A pair whose repair dead-letters is enqueued again by
 * every run until its cause is fixed: the DLQ is not read here.
 */
export async function reconcile(
  clients: Pick<Clients, "organizations" | "guardduty" | "account" | "sqs">,
  config: ReconcileConfig,
  logger: Log,
  options: {
    readonly correlationId?: string;
    readonly signal?: AbortSignal;
    readonly now?: () => Date;
    /** `Coverage` (overall and by region), `CoveragePairs` by verdict, `DriftFound`: once per run. */
    readonly metrics?: PipelineMetrics;
  } = {},
): Promise<ReconcileReport> {
  const { signal } = options;
  const { regions } = await resolveManagedRegions(config.regions, clients, config.partition, signal);
  const coverage = await readCoverage(clients, {
    regions,
    profile: config.protection,
    administratorAccountId: config.administratorAccountId,
    signal,
  });
  const repairs = repairRequests(coverage.pairs, {
    mode: config.mode,
    acceptInvitations: config.acceptInvitations,
    origin: "reconcile",
    requestedAt: (options.now?.() ?? new Date()).toISOString(),
    correlationId: options.correlationId,
  });
  const { sent, failed } =
    repairs.length === 0
      ? { sent: [], failed: new Map<string, string>() }
      : await enqueue(
          clients.sqs,
          config.onboardingQueueUrl,
          repairs.map(({ key, request }) => ({ key, body: JSON.stringify(request) })),
          { signal },
        );

  const { summary } = coverage;
  publishCoverage(options.metrics, coverage);
  logger[summary.ratio < 1 ? "warn" : "info"]("reconcile coverage", {
    coverage: summary.ratio,
    desired: summary.desired,
    protected: summary.protected,
    byVerdict: summary.byVerdict,
    accounts: coverage.accounts,
    inactive: coverage.inactive,
    regions: regions.filter((region) => !(region in coverage.regionsFailed)),
    repairs: repairs.length,
    enqueued: sent.length,
    notEnqueued: failed.size,
    correlationId: options.correlationId,
  });
  const withoutDetector = regionsWith(coverage.pairs, "no-administrator-detector");
  if (withoutDetector.length > 0) {
    logger.warn("GuardDuty is not enabled for the administrator in these regions: nothing can join there", {
      regions: withoutDetector,
    });
  }
  const notEnabled = coverage.pairs.filter((pair) => pair.verdict === "region-not-enabled-for-account");
  if (notEnabled.length > 0) {
    logger.info("accounts have not enabled these opt-in regions: not desired there until they opt in", {
      pairs: notEnabled.length,
      regions: regionsWith(coverage.pairs, "region-not-enabled-for-account"),
    });
  }
  for (const [accountId, detail] of Object.entries(coverage.optInsFailed)) {
    logger.warn("opt-in regions could not be read; the account's pairs were judged as enabled", {
      accountId,
      detail,
    });
  }
  for (const [region, detail] of Object.entries(coverage.regionsFailed)) {
    logger.error("members could not be read; the region was left out of this run", { region, detail });
  }
  for (const [key, detail] of failed) {
    logger.error("repair not enqueued; the next run enqueues it again", {
      accountId: key.split("-")[0],
      detail,
    });
  }
  return {
    coverage,
    requests: repairs.map(({ request }) => request),
    enqueued: sent,
    failed: Object.fromEntries(failed),
  };
}

/** `Coverage` overall (the alarm's) and per region, `CoveragePairs` per verdict, `DriftFound`. */
function publishCoverage(metrics: PipelineMetrics | undefined, coverage: CoverageReport): void {
  if (!metrics) return;
  const { summary, pairs } = coverage;
  metrics.gauge("Coverage", summary.ratio);
  for (const region of new Set(pairs.map((pair) => pair.region))) {
    const inRegion = pairs.filter((pair) => pair.region === region && !UNDESIRED.has(pair.verdict));
    const covered = inRegion.filter((pair) => pair.verdict === "protected").length;
    metrics.gauge("Coverage", inRegion.length === 0 ? 1 : covered / inRegion.length, ["region", region]);
  }
  for (const verdict of VERDICTS)
    metrics.gauge("CoveragePairs", summary.byVerdict[verdict], ["verdict", verdict]);
  metrics.count("DriftFound", undefined, summary.desired - summary.protected);
  metrics.publish();
}

function regionsWith(pairs: readonly PairVerdict[], verdict: string): string[] {
  return [...new Set(pairs.filter((pair) => pair.verdict === verdict).map((pair) => pair.region))];
}
