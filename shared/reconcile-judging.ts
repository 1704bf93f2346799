import { type PairVerdict, type RepairOptions, readPairs, repairOf, repairRequests } from "./coverage.ts";
import { pairKey } from "./dead-letter-index.ts";
import { describeError } from "./privacy.ts";
import { finishIfComplete } from "./reconcile-report.ts";
import type { RunState } from "./reconcile-runs.ts";
import type { PairsUnit } from "./reconcile-unit.ts";
import { enqueueRepairs, type Reconciler, regionCounts, send } from "./reconciler.ts";

/**
 * A judging unit: the verdict of each (account, region) of its chunk in its pending regions, region after
 * region until the budget is spent (the first always runs), the repairs enqueued, each region's counts
 * recorded; the regions left go on as a unit of their own.
 */
export async function judgeChunk(
  reconciler: Reconciler,
  unit: PairsUnit,
  { deadline, signal }: { readonly deadline: number; readonly signal?: AbortSignal },
): Promise<void> {
  const { clients, runs, config, logger } = reconciler;
  let first = true;
  const report = await readPairs(clients, unit.accounts, {
    regions: unit.pending,
    profile: config.protection,
    signal,
    mayStart: () => {
      const start = first || Date.now() < deadline;
      first = false;
      return start;
    },
  });
  const options = {
    mode: config.mode,
    acceptInvitations: config.acceptInvitations,
    origin: "reconcile" as const,
    requestedAt: (reconciler.now?.() ?? new Date()).toISOString(),
    correlationId: unit.runId,
  };
  const waiting = await waitingInDeadLetterQueue(reconciler, report.pairs, options, signal);
  const repairs = repairRequests(
    report.pairs.filter((pair) => !waiting.has(pairKey(pair))),
    options,
  );
  const confirmed = await enqueueRepairs(reconciler, repairs, signal);
  for (const [accountId, detail] of Object.entries(report.optInsFailed))
    logger.warn("opt-in regions could not be read; the account's pairs were judged as enabled", {
      accountId,
      detail,
    });
  for (const [region, detail] of Object.entries(report.regionsFailed))
    logger.error("members could not be read; the region is left out of this run", {
      region,
      chunk: unit.chunk,
      detail,
    });

  if (report.regionsLeft.length > 0)
    await send(reconciler, [{ ...unit, pending: [...report.regionsLeft] }], signal);
  let run: RunState | undefined;
  for (const region of [...report.regionsRead, ...Object.keys(report.regionsFailed)]) {
    const counts = regionCounts(
      report.pairs.filter((pair) => pair.region === region),
      (pair) => {
        const repair = repairOf(pair, options);
        if (repair === undefined) return "none";
        if (waiting.has(pairKey(pair))) return "waiting";
        return confirmed.has(`${pair.accountId}-${repair}`) ? "enqueued" : "not-enqueued";
      },
      report.regionsFailed[region],
    );
    run = await runs.recordRegion(unit.runId, unit.chunk, region, counts, signal);
  }
  logger.info("reconcile progress: chunk judged", {
    runId: unit.runId,
    chunk: unit.chunk,
    accounts: unit.accounts.length,
    regions: report.regionsRead,
    regionsLeft: report.regionsLeft,
    repairs: repairs.length,
    enqueued: confirmed.size,
    unitsDone: run?.done.size,
    chunksListed: run?.chunks,
  });
  if (run) await finishIfComplete(reconciler, run, signal);
}

/**
 * The pairs needing a repair whose dead letter still waits in the DLQ: reported, not enqueued again. An
 * index that cannot be read hides nothing: every repair is enqueued, as without one.
 */
async function waitingInDeadLetterQueue(
  reconciler: Reconciler,
  pairs: readonly PairVerdict[],
  options: RepairOptions,
  signal?: AbortSignal,
): Promise<Set<string>> {
  const index = reconciler.deadLetters;
  // A pair in an opt-in region the account has not enabled: its dead letter (the member side could not
  // enter the region) is explained, and must not hold back the repair once the account opts in.
  const notEnabled = pairs.filter((pair) => pair.verdict === "region-not-enabled-for-account");
  const candidates = pairs.filter((pair) => repairOf(pair, options) !== undefined);
  if (!index || candidates.length + notEnabled.length === 0) return new Set();
  try {
    const waiting = await index.waiting([...candidates, ...notEnabled], signal);
    const explained = notEnabled.filter((pair) => waiting.has(pairKey(pair)));
    if (explained.length > 0) await index.forget(explained);
    for (const pair of explained) waiting.delete(pairKey(pair));
    return waiting;
  } catch (error) {
    reconciler.logger.warn("dead-letter index not read; pairs waiting in the DLQ are enqueued again", {
      detail: describeError(error),
    });
    return new Set();
  }
}
