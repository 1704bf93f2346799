import type { SQSRecord } from "aws-lambda";
import type { BatchResult } from "./batch.ts";
import type { Clients } from "./clients.ts";
import { mapWithConcurrency } from "./concurrency.ts";
import {
  loadMembership,
  loadStageConfig,
  type MembershipMode,
  offboardDepartedAccounts,
  url,
} from "./config.ts";
import {
  type CoverageSummary,
  desiredAccounts,
  type PairVerdict,
  type RepairOptions,
  readPairs,
  repairOf,
  repairRequests,
  summaryOf,
  VERDICTS,
  type Verdict,
} from "./coverage.ts";
import { type DeadLetterIndex, pairKey } from "./dead-letter-index.ts";
import { departedMembers, offboardRequests } from "./departed-members.ts";
import { enqueue } from "./enqueue.ts";
import { ConfigError } from "./errors.ts";
import { findDetector, listMembersPage } from "./guardduty.ts";
import { type RegionsSetting, reportDiscovery, resolveManagedRegions } from "./managed-regions.ts";
import type { PipelineMetrics } from "./metrics.ts";
import { isActive, listAccountsPage } from "./organizations.ts";
import { describeError } from "./privacy.ts";
import type { Profile } from "./protection.ts";
import { complete, type ReconcileRuns, type RegionCounts, type RunState } from "./reconcile-runs.ts";
import {
  ACCOUNTS_PER_CHUNK,
  type AccountsUnit,
  type MembersUnit,
  type PairsUnit,
  parseUnit,
  type ReconcileUnit,
} from "./reconcile-unit.ts";
import type { Log } from "./report.ts";
import { sendBatch } from "./sqs-batch.ts";

/**
 * The scheduled reconciliation (README, "Scheduled reconciliation"). CloudTrail-to-EventBridge delivery is
 * best effort and members change after they were onboarded, so once a day (stage parameter
 * `reconcileSchedule`) every (account, region) gets its coverage verdict (`coverage.ts`), each repair goes
 * onto OnboardingQueue with origin `reconcile`, and `Coverage` — protected pairs ÷ desired pairs — is
 * published once for the run.
 *
 * At 50,000 accounts the organization alone is 2,500 ListAccounts pages, more than one invocation should
 * hold, so a run is split into bounded units on ReconcileQueue (`reconcile-unit.ts`): the schedule starts
 * the run and enqueues the first listing unit; each listing unit lists up to {@link ACCOUNTS_PER_CHUNK}
 * accounts and enqueues the judging of that chunk and the next listing unit; each judging unit reads its
 * chunk's members region by region until its time budget is spent and hands the rest on. Units record
 * what they found in the run's table (`reconcile-runs.ts`); the unit that completes the run reports it.
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

/**
 * A listing unit: ListAccounts pages from its token until a chunk is full, the organization ends or the
 * budget is spent; then the chunk's judging and the next listing unit, in one confirmed send.
 */
async function listChunk(
  reconciler: Reconciler,
  unit: AccountsUnit,
  { deadline, signal }: { readonly deadline: number; readonly signal?: AbortSignal },
): Promise<void> {
  const { clients, runs, config, logger } = reconciler;
  const listed: { accountId: string; active: boolean }[] = [];
  let nextToken = unit.nextToken;
  do {
    const page = await listAccountsPage(clients.organizations, nextToken, signal);
    for (const account of page.accounts)
      if (account.Id) listed.push({ accountId: account.Id, active: isActive(account) });
    nextToken = page.nextToken;
  } while (nextToken && listed.length < ACCOUNTS_PER_CHUNK && Date.now() < deadline);

  const accounts = desiredAccounts(listed, config.administratorAccountId);
  await runs.recordChunk(
    unit.runId,
    unit.chunk,
    {
      accounts: listed.length,
      inactive: listed.filter((account) => !account.active).length,
      active: listed.filter((account) => account.active).map((account) => account.accountId),
    },
    signal,
  );
  const next: ReconcileUnit[] = [
    {
      version: 1,
      kind: "pairs",
      runId: unit.runId,
      regions: unit.regions,
      chunk: unit.chunk,
      accounts,
      pending: [...unit.regions],
    },
  ];
  if (nextToken) next.push({ ...unit, chunk: unit.chunk + 1, nextToken });
  // The organization is listed: every region's members can now be told apart from departed accounts'.
  else
    next.push({
      version: 1,
      kind: "members",
      runId: unit.runId,
      regions: unit.regions,
      chunk: 0,
      scans: unit.regions.map((region) => ({ region })),
    });
  await send(reconciler, next, signal);
  logger.info("reconcile progress: accounts listed", {
    runId: unit.runId,
    chunk: unit.chunk,
    accounts: listed.length,
    desired: accounts.length,
    more: nextToken !== undefined,
  });
  if (!nextToken)
    await finishIfComplete(reconciler, await runs.listed(unit.runId, unit.chunk + 1, signal), signal);
}

/**
 * A judging unit: the verdict of each (account, region) of its chunk in its pending regions, region after
 * region until the budget is spent (the first always runs), the repairs enqueued, each region's counts
 * recorded; the regions left go on as a unit of their own.
 */
async function judgeChunk(
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
  const { sent, failed } =
    repairs.length === 0
      ? { sent: [] as string[], failed: new Map<string, string>() }
      : await enqueue(
          clients.sqs,
          config.onboardingQueueUrl,
          repairs.map(({ key, request }) => ({ key, body: JSON.stringify(request) })),
          { signal },
        );
  for (const [key, detail] of failed)
    logger.error("repair not enqueued; the next run enqueues it again", {
      accountId: key.split("-")[0],
      detail,
    });
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
  const confirmed = new Set(sent);
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
    enqueued: sent.length,
    unitsDone: run?.done.size,
    chunksListed: run?.chunks,
  });
  if (run) await finishIfComplete(reconciler, run, signal);
}

/** What became of a pair's repair. */
export type RepairFate = "none" | "enqueued" | "not-enqueued" | "waiting";

/**
 * A members unit: each region's ListMembers pages from its token, every region at once (each has its
 * own GuardDuty bucket), until the budget is spent. The members of accounts the run's listing did not find
 * active are `offboard-pending` (`departed-members.ts`) and, with `offboardDepartedAccounts`, offboarded
 * by the same request a departure event makes. Each region's stretch is recorded; the rest goes on.
 */
async function scanMembers(
  reconciler: Reconciler,
  unit: MembersUnit,
  { deadline, signal }: { readonly deadline: number; readonly signal?: AbortSignal },
): Promise<void> {
  const { clients, runs, config, logger } = reconciler;
  const run = await runs.get(unit.runId, signal);
  if (!run) throw new Error(`reconcile run ${unit.runId} is not recorded`);
  const organization = { active: await runs.organization(unit.runId, signal) };
  const scans = await mapWithConcurrency(unit.scans, unit.scans.length, async ({ region, nextToken }) => {
    const departed: string[] = [];
    try {
      const guardduty = clients.guardduty(region);
      const detectorId = await findDetector(guardduty, signal);
      let token = detectorId ? nextToken : undefined;
      if (detectorId)
        do {
          const page = await listMembersPage(guardduty, detectorId, token, signal);
          departed.push(
            ...departedMembers(page.members, organization, {
              administratorAccountId: config.administratorAccountId,
              listedFrom: run.startedAt,
            }),
          );
          token = page.nextToken;
        } while (token && Date.now() < deadline);
      return { region, departed, nextToken: token };
    } catch (error) {
      return { region, departed, failed: describeError(error) };
    }
  });

  const byAccount = new Map<string, string[]>();
  for (const { region, departed } of scans)
    for (const accountId of departed) byAccount.set(accountId, [...(byAccount.get(accountId) ?? []), region]);
  const requests = config.offboardDepartedAccounts
    ? offboardRequests(byAccount, {
        requestedAt: (reconciler.now?.() ?? new Date()).toISOString(),
        correlationId: unit.runId,
      })
    : [];
  const { sent, failed } =
    requests.length === 0
      ? { sent: [] as string[], failed: new Map<string, string>() }
      : await enqueue(
          clients.sqs,
          config.onboardingQueueUrl,
          requests.map(({ key, request }) => ({ key, body: JSON.stringify(request) })),
          { signal },
        );
  for (const [key, detail] of failed)
    logger.error("repair not enqueued; the next run enqueues it again", {
      accountId: key.split("-")[0],
      detail,
    });
  if (byAccount.size > 0)
    logger.warn("members of accounts no longer active in the organization (their event was lost)", {
      accounts: byAccount.size,
      offboarding: config.offboardDepartedAccounts,
      regions: scans.filter(({ departed }) => departed.length > 0).map(({ region }) => region),
    });

  const rest = scans.flatMap(({ region, nextToken }) => (nextToken ? [{ region, nextToken }] : []));
  if (rest.length > 0) await send(reconciler, [{ ...unit, chunk: unit.chunk + 1, scans: rest }], signal);
  const confirmed = new Set(sent);
  let state: RunState | undefined;
  for (const { region, departed, nextToken, failed: why } of scans) {
    const pairs = departed.map((accountId) => ({
      accountId,
      region,
      verdict: "offboard-pending" as const,
      detail: "a member whose account is no longer active in the organization",
    }));
    const counts = regionCounts(
      pairs,
      (pair) =>
        !config.offboardDepartedAccounts
          ? "none"
          : confirmed.has(`${pair.accountId}-offboard`)
            ? "enqueued"
            : "not-enqueued",
      why,
    );
    if (why)
      logger.error("members could not be listed; the region's departed members wait for the next run", {
        region,
        detail: why,
      });
    state =
      (await runs.recordMembers(unit.runId, region, unit.chunk, counts, nextToken === undefined, signal)) ??
      state;
  }
  logger.info("reconcile progress: members scanned", {
    runId: unit.runId,
    stretch: unit.chunk,
    departed: byAccount.size,
    regionsLeft: rest.map(({ region }) => region),
  });
  if (state) await finishIfComplete(reconciler, state, signal);
}

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
 * The pairs needing a repair whose dead letter still waits in the DLQ: reported, not enqueued again. An
 * index that cannot be read hides nothing: every repair is enqueued, as without one.
 */
async function waitingInDeadLetterQueue(
  reconciler: Reconciler,
  pairs: readonly PairVerdict[],
  options: RepairOptions,
  signal?: AbortSignal,
): Promise<Set<string>> {
  const candidates = pairs.filter((pair) => repairOf(pair, options) !== undefined);
  if (!reconciler.deadLetters || candidates.length === 0) return new Set();
  try {
    return await reconciler.deadLetters.waiting(candidates, signal);
  } catch (error) {
    reconciler.logger.warn("dead-letter index not read; pairs waiting in the DLQ are enqueued again", {
      detail: describeError(error),
    });
    return new Set();
  }
}

/** When every unit of the run is done, the one caller that claims it reports the run. */
async function finishIfComplete(reconciler: Reconciler, run: RunState, signal?: AbortSignal): Promise<void> {
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

/** Enqueues units on ReconcileQueue; every send must be confirmed, else the unit fails and runs again. */
async function send(
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
