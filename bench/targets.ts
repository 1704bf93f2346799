/**
 * The targets, checked against a run, each with the facts that explain a miss: what was called,
 * how long the profile's throttles make those calls take at least, when each phase ran and what waited on
 * retries. The explanation is computed from the run, never written to fit; the deeper diagnosis belongs
 * in BENCHMARKS.md.
 */
import {
  ACCOUNTS_PER_LIST_PAGE,
  burstLowerBound,
  IDS_PER_GUARDDUTY_CALL,
  type LowerBound,
  MEMBER_CALLS_PER_REGION,
  type MemberSide,
} from "./lower-bound.ts";
import type { NaiveFigures } from "./naive-run.ts";
import type { PipelineFigures } from "./pipeline-run.ts";
import type { Profile, ServiceProfile } from "./profile.ts";

export interface Target {
  readonly name: string;
  readonly met: boolean;
  readonly value: string;
  /** Why it was missed (or what it rests on when met); facts from the run. */
  readonly why?: string;
}

export interface ScenarioRatios {
  /** Pipeline makespan (to the last invitation) ÷ the bound's. */
  readonly ratioToLowerBound: number;
  /** Pipeline time to the last Enabled member ÷ the bound's. */
  readonly enabledRatioToLowerBound: number;
  readonly callRatiosToLowerBound: {
    readonly guardduty: number;
    readonly organizations: number;
    readonly memberSide: number;
  };
  /** Pipeline p50 event → invitation ÷ the bound's: what waiting (batching windows, queues) costs. */
  readonly p50RatioToLowerBound: number;
  /** Pipeline p50 event → Enabled ÷ the bound's. */
  readonly enabledP50RatioToLowerBound: number;
  /** Naive makespan ÷ pipeline makespan (both to the last invitation: the naive script never accepts). */
  readonly speedupOverNaive: number;
}

/**
 * Today's trickle p50 event → Enabled, the figure the trickle target compares with: measured on commit
 * 014166f (the last commit before the pipeline's restructuring, acceptance inside the onboard function)
 * with `npm run bench -- --scenarios trickle --trickle 50 --accept-invitations` and the Enabled times
 * read as `enabledAt` is here (GetMembers `updatedAt` of Enabled members), on the machine of the run
 * in BENCHMARKS.md. `--trickle-baseline-ms` overrides it.
 */
export const TRICKLE_ENABLED_P50_BASELINE = {
  p50Ms: 6158,
  p95Ms: 6512,
  source: "measured 2026-12-01 on commit 014166f, trickle of 50 (one every 7 s) × 3 regions, acceptance on",
};

export function ratiosOf(pipeline: PipelineFigures, naive: NaiveFigures, bound: LowerBound): ScenarioRatios {
  return {
    ratioToLowerBound: pipeline.makespanMs / bound.makespanMs,
    enabledRatioToLowerBound: pipeline.enabledMakespanMs / bound.enabledMakespanMs,
    callRatiosToLowerBound: {
      guardduty: pipeline.guarddutyCallsPerAccountRegion / bound.guarddutyCallsPerAccountRegion,
      organizations: pipeline.organizationsCallsPerAccount / bound.organizationsCallsPerAccount,
      memberSide: pipeline.memberSideCallsPerAccountRegion / bound.memberSideCallsPerAccountRegion,
    },
    p50RatioToLowerBound: pipeline.p50Ms / bound.p50Ms,
    enabledP50RatioToLowerBound: pipeline.enabledP50Ms / bound.enabledP50Ms,
    speedupOverNaive: naive.makespanMs / pipeline.makespanMs,
  };
}

/** Seconds a bucket needs to admit `calls` calls, starting full. */
export function throttleSeconds(calls: number, service: ServiceProfile): number {
  return Math.max(0, (calls - service.burst) / service.ratePerSecond);
}

const total = (counts: Record<string, number>) => Object.values(counts).reduce((sum, n) => sum + n, 0);
const list = (counts: Record<string, number>) =>
  Object.entries(counts)
    .map(([operation, calls]) => `${operation} ${calls}`)
    .join(", ") || "none";
const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** "ListAccounts 0.1–13.9 s, …": when each phase's calls ran, from the run's timeline. */
function phases(pipeline: PipelineFigures): string {
  const span = (operation: string) => {
    const phase = pipeline.timeline[operation];
    return phase ? `${operation} ${s(phase.firstMs)}–${s(phase.lastMs)}` : "";
  };
  return ["ListAccounts", "DescribeAccount", "InviteMembers", "AssumeRole", "AcceptAdministratorInvitation"]
    .map(span)
    .filter(Boolean)
    .join(", ");
}

export function burstTargets(
  pipeline: PipelineFigures,
  bound: LowerBound,
  profile: Profile,
  accounts: number,
  regions: number,
  member: MemberSide,
): Target[] {
  const org = pipeline.calls.organizations;
  const orgCalls = total(org);
  const pages = Math.ceil((profile.existingAccounts + accounts) / ACCOUNTS_PER_LIST_PAGE);
  const retries = pipeline.outcomes.retry ?? 0;
  const onboard = pipeline.functions.onboard;
  const accept = pipeline.functions.accept;
  const orgFacts =
    `Organizations calls: ${list(org)} (${pipeline.throttled.organizations} throttled); one full listing is ` +
    `${pages} pages, so ListAccounts read ${((org.ListAccounts ?? 0) / pages).toFixed(2)} listings' worth ` +
    `over ${onboard?.containers ?? 0} onboard containers and ${onboard?.invocations ?? 0} invocations`;
  // A throttled call takes no token: only the admitted ones cost bucket time.
  const admitted = orgCalls - pipeline.throttled.organizations;
  // The sandbox answers STS at once and never throttles it: the bound as the sandbox can enact it.
  const enactable = burstLowerBound(
    accounts,
    regions,
    {
      ...profile,
      sts: { latencyMs: 0, ratePerSecond: Number.POSITIVE_INFINITY, burst: Number.POSITIVE_INFINITY },
    },
    member,
  );
  const enabledFacts = [
    `phases (first–last call, from the first event): ${phases(pipeline)}`,
    `last invitation at ${s(pipeline.makespanMs)} (${(pipeline.makespanMs / bound.makespanMs).toFixed(2)}× its bound ` +
      `${s(bound.makespanMs)}); invitation → Enabled p50 ${s(pipeline.invitedToEnabled.p50Ms)}, p95 ` +
      `${s(pipeline.invitedToEnabled.p95Ms)}, max ${s(pipeline.invitedToEnabled.maxMs)} (the bound's member side: ` +
      `${profile.sts.latencyMs} + ${MEMBER_CALLS_PER_REGION * profile.guardduty.latencyMs} ms an account, ${member.concurrency} at once)`,
    `from the last invitation to the last Enabled member the local stack's CPU (${pipeline.hostCpu.cores} cores) was ` +
      `${(pipeline.hostCpu.memberPhaseUtilization * 100).toFixed(0)} % busy, its main thread (the sandbox's IAM ` +
      `evaluation, SQS, DynamoDB) ${(pipeline.hostCpu.memberPhaseMainThread * 100).toFixed(0)} %`,
    `the ${admitted} Organizations calls admitted need ≥ ${throttleSeconds(admitted, profile.organizations).toFixed(1)} s ` +
      `at ${profile.organizations.ratePerSecond}/s (the bound's ${bound.organizationsCalls} need ` +
      `${throttleSeconds(bound.organizationsCalls, profile.organizations).toFixed(1)} s)`,
    `accept: ${accept?.invocations ?? 0} invocations of ${((accept?.records ?? 0) / Math.max(1, accept?.invocations ?? 0)).toFixed(1)} ` +
      `records on average in ${accept?.containers ?? 0} containers`,
    pipeline.throttled.guardduty > 0 ? `${pipeline.throttled.guardduty} GuardDuty calls throttled` : "",
    retries > 0 ? `${retries} (account, region) outcomes went through a retry` : "",
    pipeline.notEnabledPairs > 0 ? `${pipeline.notEnabledPairs} (account, region) not Enabled` : "",
    pipeline.drained ? "" : "the queues did not drain before the timeout",
    `(with STS as the sandbox answers it — no latency, no throttle — the bound would be ${s(enactable.enabledMakespanMs)})`,
  ].filter(Boolean);
  const orgLimit = 1.1 * bound.organizationsCalls;
  const enabledAny = Number.isFinite(pipeline.enabledMakespanMs);
  return [
    {
      name: `time to the last Enabled member ≤ 1.3 × its lower bound (${s(bound.enabledMakespanMs)})`,
      met:
        enabledAny &&
        pipeline.notEnabledPairs === 0 &&
        pipeline.enabledMakespanMs <= 1.3 * bound.enabledMakespanMs,
      value: enabledAny
        ? `${(pipeline.enabledMakespanMs / bound.enabledMakespanMs).toFixed(2)}× (${s(pipeline.enabledMakespanMs)})`
        : "no member Enabled",
      why: enabledAny
        ? enabledFacts.join("; ")
        : "the member side did not run (acceptance off) or accepted nothing: members stay Invited",
    },
    {
      name: `Organizations calls ≤ 1.1 × the bound (${bound.organizationsCalls} ${bound.organizationsPath} calls: ${Math.floor(orgLimit)})`,
      met: orgCalls <= orgLimit,
      value: `${orgCalls} (${(orgCalls / bound.organizationsCalls).toFixed(2)}×)`,
      why: orgFacts,
    },
    {
      // The mode's floor on its one multi-account call: ≤ 50 accounts each (API model), per region.
      name: `CreateMembers per region ≤ 1.1 × its lower bound ⌈${accounts}/${IDS_PER_GUARDDUTY_CALL}⌉ = ${Math.ceil(accounts / IDS_PER_GUARDDUTY_CALL)}`,
      met:
        (pipeline.calls.guardduty.CreateMembers ?? 0) / regions <=
        1.1 * Math.ceil(accounts / IDS_PER_GUARDDUTY_CALL),
      value: `${((pipeline.calls.guardduty.CreateMembers ?? 0) / regions).toFixed(1)} (${member.mode ?? "invitation"} mode)`,
      why:
        `CreateMembers ${pipeline.calls.guardduty.CreateMembers ?? 0}, InviteMembers ${pipeline.calls.guardduty.InviteMembers ?? 0} ` +
        `over ${regions} regions, throttled calls included (${pipeline.throttled.guardduty} GuardDuty calls throttled); ` +
        `batches of ${onboard?.records !== undefined && onboard.invocations > 0 ? (onboard.records / onboard.invocations).toFixed(0) : "?"} records on average`,
    },
    {
      name: `GuardDuty administrator calls per (account, region) ≤ 0.05 (bound ${bound.guarddutyCallsPerAccountRegion.toFixed(3)})`,
      met: pipeline.guarddutyCallsPerAccountRegion <= 0.05,
      value: pipeline.guarddutyCallsPerAccountRegion.toFixed(3),
      why:
        `GuardDuty administrator calls: ${list(pipeline.calls.guardduty)} (${pipeline.throttled.guardduty} throttled); ` +
        "the 0.05 target predates verified protection, whose GetMembers + GetMemberDetectors (≤ 50 ids a call) add 0.040 a pair to the bound",
    },
  ];
}

export function trickleTargets(
  pipeline: PipelineFigures,
  baseline: { p50Ms: number; source: string },
): Target[] {
  if (!Number.isFinite(baseline.p50Ms)) return [];
  const name = `p50 event → Enabled no worse than today (${s(baseline.p50Ms)}, ${baseline.source})`;
  if (!Number.isFinite(pipeline.enabledP50Ms))
    return [
      {
        name,
        met: false,
        value: "no member Enabled",
        why: "the member side did not run (acceptance off) or accepted nothing: members stay Invited",
      },
    ];
  const onboard = pipeline.functions.onboard;
  const accept = pipeline.functions.accept;
  return [
    {
      name,
      met: pipeline.enabledP50Ms <= baseline.p50Ms,
      value: s(pipeline.enabledP50Ms),
      why:
        `p50 event → invitation ${s(pipeline.p50Ms)}, invitation → Enabled p50 ${s(pipeline.invitedToEnabled.p50Ms)} ` +
        `(p95 ${s(pipeline.invitedToEnabled.p95Ms)}); onboard ${onboard?.invocations ?? 0} invocations, accept ` +
        `${accept?.invocations ?? 0} invocations`,
    },
  ];
}
