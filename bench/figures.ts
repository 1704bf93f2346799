/**
 * The figures of one run, from what the sandbox counted, when each invitation went out and when each
 * member became Enabled: calls per (account, region) and per account — the administrator's and the
 * member side's apart —, makespans, and event → invitation and event → Enabled latencies. The same
 * function reads the pipeline's runs and the naive baseline's, so the two are counted the same way.
 */
import type { CountersSnapshot } from "../sandbox/counters.ts";
import { percentile } from "./stats.ts";

export const ORGANIZATIONS_OPERATIONS = new Set(["DescribeAccount", "ListAccounts", "DescribeOrganization"]);

/**
 * The administrator's GuardDuty calls: what coalescing is about, and what the lower bound counts. Every
 * other call (STS AssumeRole, and GuardDuty calls of member accounts: their ListDetectors beyond the
 * administrator's, CreateDetector, ListInvitations, AcceptAdministratorInvitation,
 * GetAdministratorAccount) is the member side's. The sandbox counts per operation, not per caller, so
 * the administrator's `ListDetectors` is bounded by `RunRecord.administratorListDetectors`.
 */
export const ADMINISTRATOR_OPERATIONS = new Set([
  "ListDetectors",
  "CreateMembers",
  "InviteMembers",
  "GetMembers",
  "ListMembers",
  "DeleteMembers",
  "DisassociateMembers",
  // Organization mode's delegation check, once per onboard container and region.
  "DescribeOrganizationConfiguration",
  // Protection, verified: the members' plans read back, and applied where they differ.
  "GetMemberDetectors",
  "UpdateMemberDetectors",
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
  /** First event published → last member Enabled (NaN when none was). */
  readonly enabledMakespanMs: number;
  /** Event → Enabled, per (account, region) that became Enabled. */
  readonly enabledP50Ms: number;
  readonly enabledP95Ms: number;
  /** The member side's calls (STS AssumeRole + member accounts' GuardDuty calls) per (account, region). */
  readonly memberSideCallsPerAccountRegion: number;
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
  /** (account, region) pairs Enabled at the end, and not. */
  readonly enabledPairs: number;
  readonly notEnabledPairs: number;
}

export interface RunRecord {
  readonly accounts: readonly string[];
  readonly regions: readonly string[];
  readonly counters: CountersSnapshot;
  /** account id → when its event was published (epoch ms). */
  readonly publishedAt: ReadonlyMap<string, number>;
  /** `${accountId}/${region}` → when the sandbox recorded its invitation (epoch ms). */
  readonly invitedAt: ReadonlyMap<string, number>;
  /** `${accountId}/${region}` → when the member became Enabled (epoch ms); empty without a member side. */
  readonly enabledAt: ReadonlyMap<string, number>;
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

  let start = Number.POSITIVE_INFINITY;
  for (const published of run.publishedAt.values()) start = Math.min(start, published);
  const invited = since(run, run.invitedAt, start);
  const enabled = since(run, run.enabledAt, start);
  const pairs = run.accounts.length * run.regions.length;
  const total = (counts: Record<string, number>) => Object.values(counts).reduce((sum, n) => sum + n, 0);
  return {
    accounts: run.accounts.length,
    regions: run.regions.length,
    guarddutyCallsPerAccountRegion: total(guardduty) / pairs,
    organizationsCallsPerAccount: total(organizations) / run.accounts.length,
    makespanMs: invited.makespanMs,
    p50Ms: percentile(invited.latencies, 0.5),
    p95Ms: percentile(invited.latencies, 0.95),
    enabledMakespanMs: enabled.makespanMs,
    enabledP50Ms: enabled.latencies.length > 0 ? percentile(enabled.latencies, 0.5) : Number.NaN,
    enabledP95Ms: enabled.latencies.length > 0 ? percentile(enabled.latencies, 0.95) : Number.NaN,
    memberSideCallsPerAccountRegion: total(memberSide) / pairs,
    calls: { guardduty, organizations, memberSide },
    throttled: { guardduty: throttledGuardDuty, organizations: throttledOrganizations },
    invitedPairs: invited.latencies.length,
    notInvitedPairs: pairs - invited.latencies.length,
    enabledPairs: enabled.latencies.length,
    notEnabledPairs: pairs - enabled.latencies.length,
  };
}

/** Event → `times` per (account, region), and first event → the last of them (NaN when there are none). */
function since(
  run: RunRecord,
  times: ReadonlyMap<string, number>,
  start: number,
): { latencies: number[]; makespanMs: number } {
  const latencies: number[] = [];
  let end = Number.NEGATIVE_INFINITY;
  for (const accountId of run.accounts) {
    const published = run.publishedAt.get(accountId);
    for (const region of run.regions) {
      const at = times.get(`${accountId}/${region}`);
      if (at === undefined || published === undefined) continue;
      latencies.push(at - published);
      end = Math.max(end, at);
    }
  }
  return { latencies, makespanMs: latencies.length > 0 ? end - start : Number.NaN };
}
