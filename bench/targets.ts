/**
 * The targets for a burst, checked against a run, each with the facts that explain a miss:
 * what was called, how long the profile's throttles make those calls take at least, and what waited on
 * retries. The explanation is computed from the run, never written to fit; the deeper diagnosis
 * belongs in BENCHMARKS.md.
 */
import { ACCOUNTS_PER_LIST_PAGE, type LowerBound } from "./lower-bound.ts";
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
  /** Pipeline makespan ÷ lower-bound makespan. */
  readonly ratioToLowerBound: number;
  readonly callRatiosToLowerBound: { readonly guardduty: number; readonly organizations: number };
  /** Pipeline p50 event → invitation ÷ the bound's: what waiting (batching windows, queues) costs. */
  readonly p50RatioToLowerBound: number;
  /** Naive makespan ÷ pipeline makespan. */
  readonly speedupOverNaive: number;
}

export function ratiosOf(pipeline: PipelineFigures, naive: NaiveFigures, bound: LowerBound): ScenarioRatios {
  return {
    ratioToLowerBound: pipeline.makespanMs / bound.makespanMs,
    callRatiosToLowerBound: {
      guardduty: pipeline.guarddutyCallsPerAccountRegion / bound.guarddutyCallsPerAccountRegion,
      organizations: pipeline.organizationsCallsPerAccount / bound.organizationsCallsPerAccount,
    },
    p50RatioToLowerBound: pipeline.p50Ms / bound.p50Ms,
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

export function burstTargets(
  pipeline: PipelineFigures,
  bound: LowerBound,
  profile: Profile,
  accounts: number,
): Target[] {
  const org = pipeline.calls.organizations;
  const orgCalls = total(org);
  const pages = Math.ceil((profile.existingAccounts + accounts) / ACCOUNTS_PER_LIST_PAGE);
  const retries = pipeline.outcomes.retry ?? 0;
  const orgFacts =
    `Organizations calls: ${list(org)} (${pipeline.throttled.organizations} throttled); one full listing is ` +
    `${pages} pages, so ListAccounts read ${((org.ListAccounts ?? 0) / pages).toFixed(1)} listings' worth ` +
    `over ${pipeline.containers} containers and ${pipeline.invocations} invocations`;
  // A throttled call takes no token: only the admitted ones cost bucket time.
  const admitted = orgCalls - pipeline.throttled.organizations;
  const makespanFacts = [
    `the ${admitted} Organizations calls admitted need ≥ ${throttleSeconds(admitted, profile.organizations).toFixed(1)} s ` +
      `at ${profile.organizations.ratePerSecond}/s (the bound's ${bound.organizationsCalls} need ` +
      `${throttleSeconds(bound.organizationsCalls, profile.organizations).toFixed(1)} s)`,
    pipeline.throttled.guardduty > 0 ? `${pipeline.throttled.guardduty} GuardDuty calls throttled` : "",
    retries > 0 ? `${retries} (account, region) outcomes went through the RetryQueue` : "",
    pipeline.drained ? "" : "the queues did not drain before the timeout",
  ].filter(Boolean);
  return [
    {
      name: "GuardDuty calls per (account, region) ≤ 0.05 (bound 0.04)",
      met: pipeline.guarddutyCallsPerAccountRegion <= 0.05,
      value: pipeline.guarddutyCallsPerAccountRegion.toFixed(3),
      why: `GuardDuty calls: ${list(pipeline.calls.guardduty)} (${pipeline.throttled.guardduty} throttled)`,
    },
    {
      name: "makespan ≤ 1.2 × lower bound",
      met: pipeline.makespanMs <= 1.2 * bound.makespanMs,
      value: `${(pipeline.makespanMs / bound.makespanMs).toFixed(2)}×`,
      why: makespanFacts.join("; "),
    },
    {
      name: "Organizations calls per account ≤ 1",
      met: pipeline.organizationsCallsPerAccount <= 1,
      value: pipeline.organizationsCallsPerAccount.toFixed(3),
      why: orgFacts,
    },
    {
      name: `Organizations calls ≤ one paged listing (${pages} calls)`,
      met: orgCalls <= pages,
      value: String(orgCalls),
      why: orgFacts,
    },
  ];
}
