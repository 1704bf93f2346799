/**
 * The floor no implementation can beat under a profile: the fewest calls that do the job, and the
 * earliest moment the throttles and latencies let them finish. A ratio to it says how much a run left
 * on the table; it is computed, not measured, so it carries no noise.
 *
 * The model is the sandbox's: a call waits its latency, then takes a token from its bucket (a bucket
 * starts full with `burst` tokens and refills at `ratePerSecond`); a perfect client is never throttled
 * because it sends each call exactly when a token will be there.
 */
import type { Profile, ServiceProfile } from "./profile.ts";
import { percentile } from "./stats.ts";

/** GuardDuty CreateMembers / InviteMembers take 1–50 accounts (API model). */
export const IDS_PER_GUARDDUTY_CALL = 50;
/** Organizations ListAccounts pages hold at most 20 accounts (API model). */
export const ACCOUNTS_PER_LIST_PAGE = 20;

export interface LowerBound {
  readonly guarddutyCalls: number;
  readonly organizationsCalls: number;
  readonly guarddutyCallsPerAccountRegion: number;
  readonly organizationsCallsPerAccount: number;
  /** How the e-mails are learnt at least cost. */
  readonly organizationsPath: "ListAccounts" | "DescribeAccount";
  readonly makespanMs: number;
  /** Event → invitation, per (account, region). */
  readonly p50Ms: number;
  readonly p95Ms: number;
}

/** Earliest admission of the `index`-th call (0-based) into a bucket that starts full, in ms. */
function tokenAt(index: number, service: ServiceProfile): number {
  if (index < service.burst) return 0;
  return service.ratePerSecond > 0 ? ((index + 1 - service.burst) / service.ratePerSecond) * 1000 : Infinity;
}

/**
 * A burst: `accounts` new accounts, all published at t = 0, listed after the existing ones. The e-mails
 * come from the cheaper of one DescribeAccount each or the paged listing (sequential: each page needs
 * the previous page's token); then per region ⌈N/50⌉ CreateMembers and as many InviteMembers, an
 * account's invitation at the earliest two GuardDuty latencies after its e-mail is known.
 */
export function burstLowerBound(accounts: number, regions: number, profile: Profile): LowerBound {
  const { guardduty: gd, organizations: org } = profile;
  const pages = Math.ceil((profile.existingAccounts + accounts) / ACCOUNTS_PER_LIST_PAGE);
  const listing = pages <= accounts;
  const organizationsCalls = listing ? pages : accounts;

  // When each Organizations call is answered (its admission), in ms.
  const answered: number[] = [];
  for (let index = 0; index < organizationsCalls; index++) {
    const previous = listing && index > 0 ? (answered[index - 1] as number) : 0;
    answered.push(Math.max(previous + org.latencyMs, tokenAt(index, org)));
  }
  const emailKnown = (account: number) =>
    answered[
      listing ? Math.floor((profile.existingAccounts + account) / ACCOUNTS_PER_LIST_PAGE) : account
    ] as number;

  const perRegion = Math.ceil(accounts / IDS_PER_GUARDDUTY_CALL);
  const latencies = Array.from({ length: accounts }, (_, account) => emailKnown(account) + 2 * gd.latencyMs);
  // The last CreateMembers of a region cannot pass its bucket earlier; its InviteMembers follows it.
  const guarddutyFloor =
    Math.max(gd.latencyMs, tokenAt(perRegion - 1, gd)) + Math.max(gd.latencyMs, tokenAt(perRegion - 1, gd));
  return finish({
    accounts,
    regions,
    guarddutyCalls: 2 * perRegion * regions,
    organizationsCalls,
    organizationsPath: listing ? "ListAccounts" : "DescribeAccount",
    latencies,
    makespanMs: Math.max(guarddutyFloor, ...latencies),
  });
}

/**
 * A trickle: one account every `intervalMs`, each onboarded as it arrives (nothing to coalesce, and
 * waiting to coalesce would only add latency): one DescribeAccount, then per region one CreateMembers
 * and one InviteMembers.
 */
export function trickleLowerBound(
  accounts: number,
  regions: number,
  intervalMs: number,
  profile: Profile,
): LowerBound {
  const { guardduty: gd, organizations: org } = profile;
  const latencies: number[] = [];
  let makespanMs = 0;
  for (let index = 0; index < accounts; index++) {
    const arrival = index * intervalMs;
    const known = Math.max(arrival + org.latencyMs, tokenAt(index, org));
    const created = Math.max(known + gd.latencyMs, tokenAt(index, gd));
    const invited = Math.max(created + gd.latencyMs, tokenAt(index, gd));
    latencies.push(invited - arrival);
    makespanMs = invited;
  }
  return finish({
    accounts,
    regions,
    guarddutyCalls: 2 * accounts * regions,
    organizationsCalls: accounts,
    organizationsPath: "DescribeAccount",
    latencies,
    makespanMs,
  });
}

function finish(bound: {
  accounts: number;
  regions: number;
  guarddutyCalls: number;
  organizationsCalls: number;
  organizationsPath: LowerBound["organizationsPath"];
  latencies: number[];
  makespanMs: number;
}): LowerBound {
  return {
    guarddutyCalls: bound.guarddutyCalls,
    organizationsCalls: bound.organizationsCalls,
    guarddutyCallsPerAccountRegion: bound.guarddutyCalls / (bound.accounts * bound.regions),
    organizationsCallsPerAccount: bound.organizationsCalls / bound.accounts,
    organizationsPath: bound.organizationsPath,
    makespanMs: bound.makespanMs,
    p50Ms: percentile(bound.latencies, 0.5),
    p95Ms: percentile(bound.latencies, 0.95),
  };
}
