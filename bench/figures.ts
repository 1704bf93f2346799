/**
 * The figures of one run, from what the sandbox counted and when each invitation went out: calls per
 * (account, region) and per account, makespan, and event → invitation latencies. The same function
 * reads the pipeline's runs and the naive baseline's, so the two are counted the same way.
 */
import type { CountersSnapshot } from "../sandbox/counters.ts";
import { percentile } from "./stats.ts";

export const ORGANIZATIONS_OPERATIONS = new Set(["DescribeAccount", "ListAccounts", "DescribeOrganization"]);

/** The administrator's GuardDuty calls: what coalescing is about, and what the lower bound counts. */
export const ADMINISTRATOR_OPERATIONS = new Set([
  "ListDetectors",
  "CreateMembers",
  "InviteMembers",
  "GetMembers",
  "ListMembers",
  "DeleteMembers",
  "DisassociateMembers",
]);

export interface RunFigures {
  readonly accounts: number;
  readonly regions: number;
  /** The administrator's GuardDuty calls (throttled ones included) per (account, region). */
  readonly guarddutyCallsPerAccountRegion: number;
  /** Organizations calls (throttled ones included) per account. */
  readonly organizationsCallsPerAccount: number;
  /** First event published → last invitation sent. */
  readonly makespanMs: number;
  /** Event → invitation, per (account, region). */
  readonly p50Ms: number;
  readonly p95Ms: number;
  /** operation → calls, for each side. `memberSide`: calls made inside member accounts (STS included). */
  readonly calls: {
    readonly guardduty: Record<string, number>;
    readonly organizations: Record<string, number>;
    readonly memberSide: Record<string, number>;
  };
  readonly throttled: { readonly guardduty: number; readonly organizations: number };
  /** (account, region) pairs with an invitation, and without one. */
  readonly invitedPairs: number;
  readonly notInvitedPairs: number;
}

export interface RunRecord {
  readonly accounts: readonly string[];
  readonly regions: readonly string[];
  readonly counters: CountersSnapshot;
  /** account id → when its event was published (epoch ms). */
  readonly publishedAt: ReadonlyMap<string, number>;
  /** `${accountId}/${region}` → when the sandbox recorded its invitation (epoch ms). */
  readonly invitedAt: ReadonlyMap<string, number>;
  /**
   * At most this many `ListDetectors` calls are the administrator's (it caches its detector id: one
   * per container and region); any beyond are members looking up their own detector.
   */
  readonly administratorListDetectors: number;
}

export function figuresOf(run: RunRecord): RunFigures {
  const guardduty: Record<string, number> = {};
  const organizations: Record<string, number> = {};
  const memberSide: Record<string, number> = {};
  let throttledGuardDuty = 0;
  let throttledOrganizations = 0;
  for (const [operation, byRegion] of Object.entries(run.counters.calls)) {
    let calls = Object.values(byRegion).reduce((sum, count) => sum + count, 0);
    if (ORGANIZATIONS_OPERATIONS.has(operation)) organizations[operation] = calls;
    else if (ADMINISTRATOR_OPERATIONS.has(operation)) {
      if (operation === "ListDetectors" && calls > run.administratorListDetectors) {
        memberSide.ListDetectors = calls - run.administratorListDetectors;
        calls = run.administratorListDetectors;
      }
      guardduty[operation] = calls;
    } else memberSide[operation] = calls;
  }
  for (const [operation, byRegion] of Object.entries(run.counters.throttled)) {
    const throttled = Object.values(byRegion).reduce((sum, count) => sum + count, 0);
    if (ORGANIZATIONS_OPERATIONS.has(operation)) throttledOrganizations += throttled;
    else throttledGuardDuty += throttled;
  }

  const latencies: number[] = [];
  let start = Number.POSITIVE_INFINITY;
  let end = Number.NEGATIVE_INFINITY;
  for (const published of run.publishedAt.values()) start = Math.min(start, published);
  for (const accountId of run.accounts) {
    const published = run.publishedAt.get(accountId);
    for (const region of run.regions) {
      const invited = run.invitedAt.get(`${accountId}/${region}`);
      if (invited === undefined || published === undefined) continue;
      latencies.push(invited - published);
      end = Math.max(end, invited);
    }
  }
  const pairs = run.accounts.length * run.regions.length;
  const total = (counts: Record<string, number>) => Object.values(counts).reduce((sum, n) => sum + n, 0);
  return {
    accounts: run.accounts.length,
    regions: run.regions.length,
    guarddutyCallsPerAccountRegion: total(guardduty) / pairs,
    organizationsCallsPerAccount: total(organizations) / run.accounts.length,
    makespanMs: latencies.length > 0 ? end - start : Number.NaN,
    p50Ms: percentile(latencies, 0.5),
    p95Ms: percentile(latencies, 0.95),
    calls: { guardduty, organizations, memberSide },
    throttled: { guardduty: throttledGuardDuty, organizations: throttledOrganizations },
    invitedPairs: latencies.length,
    notInvitedPairs: pairs - latencies.length,
  };
}
