import type { SQSRecord } from "aws-lambda";
import type { BatchResult } from "./batch.ts";
import { reportDiscovery, resolveManagedRegions } from "./managed-regions.ts";
import { describeError } from "./privacy.ts";
import { judgeChunk } from "./reconcile-judging.ts";
import { listChunk } from "./reconcile-listing.ts";
import { scanMembers } from "./reconcile-members.ts";
import { parseUnit, type ReconcileUnit } from "./reconcile-unit.ts";
import { type Reconciler, send } from "./reconciler.ts";

export type { ReconcileReport } from "./reconcile-report.ts";
export { loadReconcileConfig, type ReconcileConfig, type Reconciler } from "./reconciler.ts";

/**
 * The scheduled reconciliation (README, "Scheduled reconciliation"). CloudTrail-to-EventBridge delivery is
 * best effort and members change after they were onboarded, so once a day (stage parameter
 * `reconcileSchedule`) every (account, region) gets its coverage verdict (`coverage.ts`), each repair goes
 * onto OnboardingQueue with origin `reconcile`, and `Coverage` — protected pairs ÷ desired pairs — is
 * published once for the run.
 *
 * At 50,000 accounts the organization alone is 2,500 ListAccounts pages, more than one invocation should
 * hold, so a run is split into bounded units on ReconcileQueue (`reconcile-unit.ts`): the schedule starts
 * the run and enqueues the first listing unit; each listing unit (`reconcile-listing.ts`) lists up to
 * 1,000 accounts and enqueues the judging of that chunk and the next listing unit; each judging unit
 * (`reconcile-judging.ts`) reads its chunk's members region by region until its time budget is spent and
 * hands the rest on; once the organization is listed, members units (`reconcile-members.ts`) scan every
 * region's members for departed accounts. Units record what they found in the run's table
 * (`reconcile-runs.ts`); the unit that completes the run reports it (`reconcile-report.ts`).
 */

/**
 * Starts run `runId` (the schedule's event id): records it and enqueues its first listing unit. A
 * redelivered schedule event whose run has not made progress enqueues the first unit again (its send may
 * be what failed); one further on does nothing.
 */
export async function startRun(
  reconciler: Reconciler,
  runId: string,
  signal?: AbortSignal,
): Promise<{ readonly runId: string; readonly regions: readonly string[]; readonly started: boolean }> {
  const { runs, config, logger } = reconciler;
  // With `regions: all`, the regions are discovered afresh for every run: a region enabled since is in it.
  const managed = await resolveManagedRegions(config.regions, reconciler.clients, config.partition, signal);
  if (managed.discovered) reportDiscovery(managed, logger);
  const { regions } = managed;
  if (regions.length === 0) {
    logger.warn("no managed region: nothing to reconcile", { runId });
    return { runId, regions, started: false };
  }
  const started = await runs.start(runId, regions, signal);
  const run = started ? undefined : await runs.get(runId, signal);
  if (run && (run.chunks !== undefined || run.done.size > 0)) {
    logger.info("reconcile run already under way", { runId });
    return { runId, regions: run.regions, started: false };
  }
  await send(
    reconciler,
    [{ version: 1, kind: "accounts", runId, regions: [...(run?.regions ?? regions)], chunk: 0 }],
    signal,
  );
  logger.info("reconcile run started", { runId, regions });
  return { runId, regions, started };
}

/** Time kept back after a unit's budget for its sends and its records. */
const UNIT_RESERVE_MS = 30_000;
/** A unit works at most this long: far below the function's timeout (serverless.yml). */
export const UNIT_BUDGET_MS = 60_000;

/** The moment a unit stops starting new work, from the invocation's remaining time. */
export function unitDeadline(remainingMs: number, now = Date.now()): number {
  return now + Math.max(0, Math.min(UNIT_BUDGET_MS, remainingMs - UNIT_RESERVE_MS));
}

/**
 * ReconcileQueue → units, one after the other. A unit that fails is reported as a batch item failure: SQS
 * delivers it again (every unit can be run twice), and after `maxReceiveCount` moves it to the DLQ.
 */
export async function runUnits(
  records: readonly SQSRecord[],
  reconciler: Reconciler,
  options: { readonly deadline: number; readonly signal?: AbortSignal },
): Promise<BatchResult> {
  const failures: { itemIdentifier: string }[] = [];
  for (const record of records) {
    try {
      await runUnit(reconciler, parseUnit(record.body), options);
    } catch (error) {
      reconciler.logger.error("reconcile unit failed; SQS delivers it again", {
        messageId: record.messageId,
        detail: describeError(error),
      });
      failures.push({ itemIdentifier: record.messageId });
    }
  }
  return { batchItemFailures: failures };
}

export async function runUnit(
  reconciler: Reconciler,
  unit: ReconcileUnit,
  options: { readonly deadline: number; readonly signal?: AbortSignal },
): Promise<void> {
  if (unit.kind === "accounts") await listChunk(reconciler, unit, options);
  else if (unit.kind === "pairs") await judgeChunk(reconciler, unit, options);
  else await scanMembers(reconciler, unit, options);
}
