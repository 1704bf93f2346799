/**
 * The floor no implementation can beat under a profile: the fewest calls that do the job, and the
 * earliest moment the throttles and latencies let them finish. A ratio to it says how much a run left
 * on the table; it is computed, not measured, so it carries no noise.
 *
 * The model is the sandbox's: a call waits its latency, then takes a token from its bucket (a bucket
 * starts full with `burst` tokens and refills at `ratePerSecond`); a perfect client is never throttled
 * because it sends each call exactly when a token will be there.
 *
 * Two ends are bounded. The administrator side ends at the last invitation: the e-mails from
 * Organizations, then ⌈N/50⌉ CreateMembers and InviteMembers per region. The member side ends at the
 * last Enabled member: each invited account is entered once (STS AssumeRole), then in every region, in
 * parallel, the member side's calls one after the other (ListDetectors, CreateDetector, ListInvitations,
 * AcceptAdministratorInvitation for a new account) at GuardDuty's latency and unthrottled (each member
 * account has its own quotas), at most `memberConcurrency` accounts at once (the accept function's
 * event-source concurrency × the accounts one invocation enters at once).
 *
 * Organization mode (`mode: "organization"`): the stack's account is the delegated administrator, so
 * CreateMembers alone enables each account — ⌈N/50⌉ CreateMembers per region and nothing else: its answer
 * is both the end of the administrator side and the Enabled member; there is no member side.
 */
import type { Profile, ServiceProfile } from "./profile.ts";
import { percentile } from "./stats.ts";

/** GuardDuty CreateMembers / InviteMembers take 1–50 accounts (API model). */
export const IDS_PER_GUARDDUTY_CALL = 50;
/** Organizations ListAccounts pages hold at most 20 accounts (API model). */
export const ACCOUNTS_PER_LIST_PAGE = 20;
/**
 * The member side's GuardDuty calls per region for a new account, one after the other (shared/acceptance.ts):
 * ListDetectors (none yet), CreateDetector, ListInvitations (the invitation id), AcceptAdministratorInvitation.
 */
export const MEMBER_CALLS_PER_REGION = 4;
/** STS AssumeRole calls per member account: one session serves all its regions. */
export const ASSUME_ROLE_PER_ACCOUNT = 1;

/** What bounds the member side besides the profile: how many member accounts are entered at once. */
export interface MemberSide {
  /** Member accounts in flight at once: accept's maximumConcurrency × accounts one invocation enters at once. */
  readonly concurrency: number;
  /** The stage's membershipMode; default invitation. Organization mode has no member side. */
  readonly mode?: "invitation" | "organization";
}

/**
 * GuardDuty administrator calls per (account-chunk, region): CreateMembers (+ InviteMembers by
 * invitation), then verification — GetMembers and GetMemberDetectors (≤ 50 ids each), no update when the
 * plans are already the profile's.
 */
function callsPerChunk(member: MemberSide): number {
  return (member.mode === "organization" ? 1 : 2) + 2;
}

export interface LowerBound {
  readonly guarddutyCalls: number;
  readonly organizationsCalls: number;
  readonly guarddutyCallsPerAccountRegion: number;
  readonly organizationsCallsPerAccount: number;
  /** How the e-mails are learnt at least cost. */
  readonly organizationsPath: "ListAccounts" | "DescribeAccount";
  /** First event → last invitation. */
  readonly makespanMs: number;
  /** Event → invitation, per (account, region). */
  readonly p50Ms: number;
  readonly p95Ms: number;
  /** First event → last Enabled member (the member side list-scheduled on `memberConcurrency` slots). */
  readonly enabledMakespanMs: number;
  /** Event → Enabled, per (account, region). */
  readonly enabledP50Ms: number;
  readonly enabledP95Ms: number;
  /** STS AssumeRole + the member side's GuardDuty calls, per (account, region). */
  readonly memberSideCallsPerAccountRegion: number;
  readonly memberConcurrency: number;
}

/** Earliest admission of the `index`-th call (0-based) into a bucket that starts full, in ms. */
function tokenAt(index: number, service: ServiceProfile): number {
  if (index < service.burst) return 0;
  return service.ratePerSecond > 0 ? ((index + 1 - service.burst) / service.ratePerSecond) * 1000 : Infinity;
}

/**
 * A burst: `accounts` new accounts, all published at t = 0, listed after the existing ones. The events
 * carry no e-mail, so every account needs Organizations: the cheaper of one DescribeAccount each or one
 * paged listing of the whole organization, shared by every container (⌈(existing + new)/20⌉ pages,
 * sequential: each page needs the previous page's token; the new accounts come last, so no shorter
 * prefix holds them). Then per region ⌈N/50⌉ CreateMembers and as many InviteMembers, an account's
 * invitation at the earliest two GuardDuty latencies after its e-mail is known; then its member side.
 */
export function burstLowerBound(
  accounts: number,
  regions: number,
  profile: Profile,
  member: MemberSide,
): LowerBound {
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
  const chunkCalls = callsPerChunk(member);
  const latencies = Array.from(
    { length: accounts },
    (_, account) => emailKnown(account) + chunkCalls * gd.latencyMs,
  );
  // The last CreateMembers of a region cannot pass its bucket earlier; its InviteMembers (if any) follows it.
  const guarddutyFloor = chunkCalls * Math.max(gd.latencyMs, tokenAt(perRegion - 1, gd));
  // Some account is in each region's last InviteMembers, which cannot pass before the floor: at best the
  // one whose e-mail is learnt last (the others keep their own earliest time).
  const invitedAt = [...latencies];
  if (accounts > 0) invitedAt[accounts - 1] = Math.max(invitedAt[accounts - 1] as number, guarddutyFloor);
  return finish({
    accounts,
    regions,
    profile,
    member,
    guarddutyCalls: chunkCalls * perRegion * regions,
    organizationsCalls,
    organizationsPath: listing ? "ListAccounts" : "DescribeAccount",
    arrivals: invitedAt.map(() => 0),
    latencies,
    invitedAt,
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
  member: MemberSide,
): LowerBound {
  const { guardduty: gd, organizations: org } = profile;
  const latencies: number[] = [];
  const arrivals: number[] = [];
  const invitedAt: number[] = [];
  let makespanMs = 0;
  for (let index = 0; index < accounts; index++) {
    const arrival = index * intervalMs;
    const known = Math.max(arrival + org.latencyMs, tokenAt(index, org));
    const created = Math.max(known + gd.latencyMs, tokenAt(index, gd));
    const invited =
      member.mode === "organization" ? created : Math.max(created + gd.latencyMs, tokenAt(index, gd));
    arrivals.push(arrival);
    invitedAt.push(invited);
    latencies.push(invited - arrival);
    makespanMs = invited;
  }
  return finish({
    accounts,
    regions,
    profile,
    member,
    guarddutyCalls: callsPerChunk(member) * accounts * regions,
    organizationsCalls: accounts,
    organizationsPath: "DescribeAccount",
    arrivals,
    latencies,
    invitedAt,
    makespanMs,
  });
}

/**
 * When each account becomes Enabled at the earliest: accounts in invitation order, list-scheduled onto
 * `concurrency` slots (an account takes the slot that frees first, once it is invited); in its slot,
 * AssumeRole (its latency, then an STS token), then the member side's calls per region one after the
 * other, the regions in parallel (so one region's sequence is the account's time).
 */
export function enabledTimes(invitedAt: readonly number[], profile: Profile, member: MemberSide): number[] {
  const order = invitedAt.map((at, account) => ({ at, account })).sort((a, b) => a.at - b.at);
  const slots = Array.from({ length: Math.max(1, member.concurrency) }, () => 0);
  const enabled = new Array<number>(invitedAt.length);
  for (const [index, { at, account }] of order.entries()) {
    let slot = 0;
    for (let candidate = 1; candidate < slots.length; candidate++) {
      if ((slots[candidate] as number) < (slots[slot] as number)) slot = candidate;
    }
    const start = Math.max(at, slots[slot] as number);
    // Starts never decrease (invitations are in order, and a slot frees after it was taken), so the
    // index-th AssumeRole takes the index-th STS token.
    const entered = Math.max(start + profile.sts.latencyMs, tokenAt(index, profile.sts));
    const done = entered + MEMBER_CALLS_PER_REGION * profile.guardduty.latencyMs;
    slots[slot] = done;
    enabled[account] = done;
  }
  return enabled;
}

function finish(bound: {
  accounts: number;
  regions: number;
  profile: Profile;
  member: MemberSide;
  guarddutyCalls: number;
  organizationsCalls: number;
  organizationsPath: LowerBound["organizationsPath"];
  /** Per account: its event (ms from the first one). */
  arrivals: number[];
  /** Per account: event → invitation. */
  latencies: number[];
  /** Per account: its invitation (ms from the first event). */
  invitedAt: number[];
  makespanMs: number;
}): LowerBound {
  // Organization mode: CreateMembers' answer is the Enabled member.
  const organization = bound.member.mode === "organization";
  const enabled = organization
    ? [...bound.invitedAt]
    : enabledTimes(bound.invitedAt, bound.profile, bound.member);
  const enabledLatencies = enabled.map((at, account) => at - (bound.arrivals[account] as number));
  return {
    guarddutyCalls: bound.guarddutyCalls,
    organizationsCalls: bound.organizationsCalls,
    guarddutyCallsPerAccountRegion: bound.guarddutyCalls / (bound.accounts * bound.regions),
    organizationsCallsPerAccount: bound.organizationsCalls / bound.accounts,
    organizationsPath: bound.organizationsPath,
    makespanMs: bound.makespanMs,
    p50Ms: percentile(bound.latencies, 0.5),
    p95Ms: percentile(bound.latencies, 0.95),
    // All regions of an account are Enabled together in the bound: per (account, region) percentiles
    // are the per-account ones.
    enabledMakespanMs: Math.max(0, ...enabled),
    enabledP50Ms: percentile(enabledLatencies, 0.5),
    enabledP95Ms: percentile(enabledLatencies, 0.95),
    memberSideCallsPerAccountRegion: organization
      ? 0
      : MEMBER_CALLS_PER_REGION + ASSUME_ROLE_PER_ACCOUNT / bound.regions,
    memberConcurrency: bound.member.concurrency,
  };
}
