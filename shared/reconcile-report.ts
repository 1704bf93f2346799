import { type CoverageSummary, summaryOf, VERDICTS, type Verdict } from "./coverage.ts";
import type { PipelineMetrics } from "./metrics.ts";
import { complete, type RunState } from "./reconcile-runs.ts";
import type { Reconciler } from "./reconciler.ts";

/**
 * The end of a reconcile run: the unit that completes it claims it, sums the run's items, publishes
 * `Coverage`, `CoveragePairs` and `DriftFound`, logs one `reconcile coverage` line and keeps the report on
 * the run's item — once, however many units see the run complete.
 */

/** The run's result, reported once (log line, metrics) and kept on the run's item. */
export interface ReconcileReport {
  readonly runId: string;
  readonly startedAt: string;
  readonly regions: readonly string[];
  readonly accounts: number;
  /** Suspended, closed or closing accounts: not desired. */
  readonly inactive: number;
  readonly summary: CoverageSummary;
  /** Region → protected ÷ desired in that region. */
  readonly byRegion: Readonly<Record<string, number>>;
  /** Repairs SQS confirmed, by the verdict they repair. */
  readonly repairs: Readonly<Partial<Record<Verdict, number>>>;
  /** Repairs not confirmed: the next run enqueues them again. */
  readonly notEnqueued: number;
  /** Pairs not repaired because their dead letter waits in the DLQ for an operator. */
  readonly waitingInDeadLetterQueue: number;
  /** Regions whose members could not be read (for some chunk), with why: the next run reads them again. */
  readonly regionsFailed: Readonly<Record<string, string>>;
}

/** When every unit of the run is done, the one caller that claims it reports the run. */
export async function finishIfComplete(
  reconciler: Reconciler,
  run: RunState,
  signal?: AbortSignal,
): Promise<void> {
  if (!complete(run) || run.finishedAt) return;
  const { runs, logger, metrics } = reconciler;
  if (!(await runs.claimFinish(run.runId, signal))) return;
  const totals = await runs.totals(run.runId, signal);
  const summary = summaryOf(totals.byVerdict);
  const byRegion = Object.fromEntries(
    run.regions.map((region) => {
      const counts = totals.byRegion[region];
      return [region, counts ? summaryOf(counts).ratio : 1];
    }),
  );
  const report: ReconcileReport = {
    runId: run.runId,
    startedAt: run.startedAt,
    regions: run.regions,
    accounts: totals.accounts,
    inactive: totals.inactive,
    summary,
    byRegion,
    repairs: totals.repairs,
    notEnqueued: totals.notEnqueued,
    waitingInDeadLetterQueue: totals.waitingInDeadLetterQueue,
    regionsFailed: totals.regionsFailed,
  };
  if (metrics) publishCoverage(metrics, report);
  // A gap, or a region not read: worth a look.
  const level = summary.ratio < 1 || Object.keys(totals.regionsFailed).length > 0 ? "warn" : "info";
  logger[level]("reconcile coverage", {
    runId: run.runId,
    coverage: summary.ratio,
    desired: summary.desired,
    protected: summary.protected,
    byVerdict: summary.byVerdict,
    byRegion,
    accounts: totals.accounts,
    inactive: totals.inactive,
    repairs: totals.repairs,
    notEnqueued: totals.notEnqueued,
    waitingInDeadLetterQueue: totals.waitingInDeadLetterQueue,
    regionsFailed: Object.keys(totals.regionsFailed),
    startedAt: run.startedAt,
  });
  if (totals.waitingInDeadLetterQueue > 0)
    logger.warn(
      "pairs whose dead letter waits in the DLQ were not enqueued again: `gd-onboard dlq list` says why",
      {
        pairs: totals.waitingInDeadLetterQueue,
      },
    );
  const without = regionsWith(totals.byRegion, "no-administrator-detector");
  if (without.length > 0)
    logger.warn("GuardDuty is not enabled for the administrator in these regions: nothing can join there", {
      regions: without,
    });
  const notEnabled = regionsWith(totals.byRegion, "region-not-enabled-for-account");
  if (notEnabled.length > 0)
    logger.info("accounts have not enabled these opt-in regions: not desired there until they opt in", {
      pairs: summary.byVerdict["region-not-enabled-for-account"],
      regions: notEnabled,
    });
  await runs.saveReport(run.runId, report, signal);
}

/** `Coverage` overall (the alarm's) and per region, `CoveragePairs` per verdict, `DriftFound`. */
function publishCoverage(metrics: PipelineMetrics, report: ReconcileReport): void {
  const { summary } = report;
  metrics.gauge("Coverage", summary.ratio);
  for (const [region, ratio] of Object.entries(report.byRegion))
    metrics.gauge("Coverage", ratio, ["region", region]);
  for (const verdict of VERDICTS)
    metrics.gauge("CoveragePairs", summary.byVerdict[verdict], ["verdict", verdict]);
  metrics.count("DriftFound", undefined, summary.desired - summary.protected);
  metrics.publish();
}

function regionsWith(
  byRegion: Readonly<Record<string, Readonly<Record<Verdict, number>>>>,
  verdict: Verdict,
): string[] {
  return Object.entries(byRegion)
    .filter(([, counts]) => counts[verdict] > 0)
    .map(([region]) => region);
}
