import type { Clients } from "./clients.ts";
import {
  loadMembership,
  loadStageConfig,
  type MembershipMode,
  offboardDepartedAccounts,
  url,
} from "./config.ts";
import type { PairVerdict, Verdict } from "./coverage.ts";
import type { DeadLetterIndex } from "./dead-letter-index.ts";
import { enqueue } from "./enqueue.ts";
import { ConfigError } from "./errors.ts";
import type { RegionsSetting } from "./managed-regions.ts";
import type { OnboardingRequest } from "./message.ts";
import type { PipelineMetrics } from "./metrics.ts";
import type { Profile } from "./protection.ts";
import type { ReconcileRuns, RegionCounts } from "./reconcile-runs.ts";
import type { ReconcileUnit } from "./reconcile-unit.ts";
import type { Log } from "./report.ts";
import { sendBatch } from "./sqs-batch.ts";

/**
 * What every unit of a reconcile run works with (`reconcile.ts`): the stage configuration, the clients and
 * the run's table, and the three things every unit does the same way — enqueue repairs, hand units on, and
 * count what became of each pair's repair.
 */

export interface ReconcileConfig {
  /** A list, or `all`: discovered at the start of every run (`managed-regions.ts`). */
  readonly regions: RegionsSetting;
  readonly partition: string;
  readonly onboardingQueueUrl: string;
  /** Where the run's units go (its own queue; the function consumes it). */
  readonly reconcileQueueUrl: string;
  /** The runs' table (`reconcile-runs.ts`). */
  readonly runsTable: string;
  /** Which pairs wait in the DLQ (`dead-letter-index.ts`); none: every run enqueues them again. */
  readonly deadLetterIndexTable?: string;
  readonly administratorAccountId?: string;
  readonly sdkRequestTimeoutMs: number;
  readonly protection: Profile;
  readonly mode: MembershipMode;
  /** Invitation mode with the member side on: an invited member's repair is its acceptance. */
  readonly acceptInvitations: boolean;
  /** Members of departed and closed accounts are offboarded; off, they are reported only. */
  readonly offboardDepartedAccounts: boolean;
}

type Env = Readonly<Record<string, string | undefined>>;

/** Reads the stage configuration the reconcile function needs; fails fast naming the variable. */
export function loadReconcileConfig(env: Env = process.env): ReconcileConfig {
  const { regions, partition, administratorAccountId, sdkRequestTimeoutMs, protection } =
    loadStageConfig(env);
  // The onboard function's own reading of the mode and of the member side, so both agree.
  const { mode, acceptInvitations } = loadMembership(env);
  const runsTable = env.RECONCILE_RUNS_TABLE?.trim();
  if (!runsTable) throw new ConfigError("RECONCILE_RUNS_TABLE", "is required (the reconcile runs' table)");
  return {
    regions,
    partition,
    onboardingQueueUrl: url(env, "ONBOARDING_QUEUE_URL"),
    reconcileQueueUrl: url(env, "RECONCILE_QUEUE_URL"),
    runsTable,
    deadLetterIndexTable: env.DEAD_LETTER_INDEX_TABLE?.trim() || undefined,
    administratorAccountId,
    sdkRequestTimeoutMs,
    protection,
    mode,
    acceptInvitations,
    offboardDepartedAccounts: offboardDepartedAccounts(env),
  };
}

/** What a run needs: its clients, its table, its configuration, where it logs and counts. */
export interface Reconciler {
  readonly clients: Pick<Clients, "organizations" | "guardduty" | "account" | "sqs">;
  readonly runs: ReconcileRuns;
  /** Pairs waiting in the DLQ are reported, not enqueued again. */
  readonly deadLetters?: DeadLetterIndex;
  readonly config: ReconcileConfig;
  readonly logger: Log;
  /** `Coverage` (overall and by region), `CoveragePairs` by verdict, `DriftFound`: once per run. */
  readonly metrics?: PipelineMetrics;
  readonly now?: () => Date;
}

/** What became of a pair's repair. */
export type RepairFate = "none" | "enqueued" | "not-enqueued" | "waiting";

/** One region's counts, from each pair's verdict and what became of its repair. */
export function regionCounts(
  pairs: readonly PairVerdict[],
  fate: (pair: PairVerdict) => RepairFate,
  failed?: string,
): RegionCounts {
  const byVerdict: Partial<Record<Verdict, number>> = {};
  const repairs: Partial<Record<Verdict, number>> = {};
  let notEnqueued = 0;
  let waitingInDeadLetterQueue = 0;
  for (const pair of pairs) {
    byVerdict[pair.verdict] = (byVerdict[pair.verdict] ?? 0) + 1;
    const outcome = fate(pair);
    if (outcome === "enqueued") repairs[pair.verdict] = (repairs[pair.verdict] ?? 0) + 1;
    if (outcome === "not-enqueued") notEnqueued++;
    if (outcome === "waiting") waitingInDeadLetterQueue++;
  }
  return { byVerdict, repairs, notEnqueued, waitingInDeadLetterQueue, ...(failed && { failed }) };
}

/**
 * Puts repair requests on OnboardingQueue; the keys SQS confirmed. An unconfirmed one is logged, counted by
 * the caller, and enqueued again by the next run.
 */
export async function enqueueRepairs(
  reconciler: Reconciler,
  requests: readonly { readonly key: string; readonly request: OnboardingRequest }[],
  signal?: AbortSignal,
): Promise<Set<string>> {
  if (requests.length === 0) return new Set();
  const { sent, failed } = await enqueue(
    reconciler.clients.sqs,
    reconciler.config.onboardingQueueUrl,
    requests.map(({ key, request }) => ({ key, body: JSON.stringify(request) })),
    { signal },
  );
  for (const [key, detail] of failed)
    reconciler.logger.error("repair not enqueued; the next run enqueues it again", {
      accountId: key.split("-")[0],
      detail,
    });
  return new Set(sent);
}

/** Enqueues units on ReconcileQueue; every send must be confirmed, else the unit fails and runs again. */
export async function send(
  reconciler: Reconciler,
  units: readonly ReconcileUnit[],
  signal?: AbortSignal,
): Promise<void> {
  const { failed } = await sendBatch(
    reconciler.clients.sqs,
    reconciler.config.reconcileQueueUrl,
    units.map((unit, index) => ({ key: String(index), body: JSON.stringify(unit) })),
    signal,
  );
  if (failed.size > 0)
    throw new Error(
      `ReconcileQueue did not confirm ${failed.size} unit(s): ${[...failed.values()].join("; ")}`,
    );
}
