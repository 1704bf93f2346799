import { GetMemberDetectorsCommand, type GuardDutyClient } from "@aws-sdk/client-guardduty";
import { listOrganizationAccounts, type OrganizationAccount } from "./backfill.ts";
import type { Clients } from "./clients.ts";
import { chunk, mapWithConcurrency } from "./concurrency.ts";
import type { MembershipMode } from "./config.ts";
import { findDetector, getMembers, MAX_ACCOUNTS_PER_CALL } from "./guardduty.ts";
import type { OnboardingRequest } from "./message.ts";
import type { Step } from "./outcomes.ts";
import { describeError, redact } from "./privacy.ts";
import { type ActualPlans, actualPlans, differences, type Profile, plansFor } from "./protection.ts";
import { type OptIns, readOptIns, regionEnabled } from "./regions.ts";

/**
 * Coverage: the verdict of every (account, region) the stage is responsible for, and the repair each
 * one needs. The desired state is every ACTIVE account of the organization but the administrator, in
 * every managed region where the administrator has a detector; the actual state is what the
 * administrator sees (Organizations ListAccounts, GuardDuty ListMembers and GetMemberDetectors, and —
 * only when a managed region is an opt-in region — each account's opt-in status, `regions.ts`). The
 * `reconcile` function enqueues the repairs and publishes the ratio; `gd-onboard coverage` prints it.
 */

/**
 * The verdicts (README, "Coverage"):
 * - `protected`: Enabled under this administrator, plans equal to the region's profile;
 * - `not-a-member`: the administrator does not list the account at all;
 * - `invited-not-accepted`: Created (not invited yet), Invited or EmailVerificationInProgress;
 * - `monitoring-stopped`: Disabled (StopMonitoringMembers, or the member suspended its detector);
 * - `resigned`: the member disassociated itself; `removed`: the administrator disassociated it (or the
 *   member deleted its detector);
 * - `email-verification-failed`: the invitation's e-mail could not be verified;
 * - `plans-differ`: Enabled, but its plans differ from the profile (or could not be read);
 * - `no-administrator-detector`: the administrator has no detector in the region: nothing can join;
 * - `region-not-enabled-for-account`: an opt-in region the account has not enabled (account:ListRegions):
 *   nothing can be done there until it opts in; the next reconcile after that onboards it;
 * - `offboard-pending`: a member whose account is no longer an active account of the organization (it
 *   left, or it was closed, and its event was lost): the reconcile's scan of the members finds it
 *   (`departed-members.ts`) and offboards it.
 */
export const VERDICTS = [
  "protected",
  "not-a-member",
  "invited-not-accepted",
  "monitoring-stopped",
  "resigned",
  "removed",
  "email-verification-failed",
  "plans-differ",
  "no-administrator-detector",
  "region-not-enabled-for-account",
  "offboard-pending",
] as const;
export type Verdict = (typeof VERDICTS)[number];

/** Verdicts of pairs the stage is not responsible for: not desired, not counted in the ratio. */
export const UNDESIRED: ReadonlySet<Verdict> = new Set([
  "no-administrator-detector",
  "region-not-enabled-for-account",
  "offboard-pending",
]);

/** The verdict of a relationship status other than Enabled (GuardDuty `RelationshipStatus`). */
const BY_STATUS: Readonly<Record<string, Verdict>> = {
  Created: "invited-not-accepted",
  Invited: "invited-not-accepted",
  EmailVerificationInProgress: "invited-not-accepted",
  Disabled: "monitoring-stopped",
  Resigned: "resigned",
  Removed: "removed",
  EmailVerificationFailed: "email-verification-failed",
};

export interface PairVerdict {
  readonly accountId: string;
  readonly region: string;
  readonly verdict: Verdict;
  /** The relationship status found, what differs, why plans could not be read… (never an e-mail). */
  readonly detail: string;
  /** The relationship status (absent: not a member, or no detector). */
  readonly status?: string;
}

/** What the administrator sees in one region; `undefined` members: no detector there. */
export interface RegionState {
  readonly region: string;
  readonly statuses?: ReadonlyMap<string, string>;
  /** Plans of the Enabled members GetMemberDetectors answered for. */
  readonly plans?: ReadonlyMap<string, ActualPlans>;
  /** Why GetMemberDetectors did not answer for a member (its UnprocessedAccounts text, redacted). */
  readonly unreadable?: ReadonlyMap<string, string>;
}

/**
 * The verdict of one (account, region) from its relationship status and its plans as read back: the one
 * vocabulary of the reconcile, `gd-onboard coverage` and `status`, the local summary and chaos.
 */
export function pairVerdict(
  status: string | undefined,
  plans: ActualPlans | undefined,
  profile: Profile,
  region: string,
): Verdict {
  if (status === undefined) return "not-a-member";
  if (status !== "Enabled") return BY_STATUS[status] ?? "not-a-member";
  if (plans === undefined) return "plans-differ";
  return differences(plansFor(profile, region), plans).length === 0 ? "protected" : "plans-differ";
}

/**
 * The verdict of one (account, region) from the region's state, the profile and whether the account
 * has enabled the region (an opt-in region it has not: whatever the administrator lists, nothing runs
 * there).
 */
export function verdictOf(
  accountId: string,
  state: RegionState,
  profile: Profile,
  enabled = true,
): PairVerdict {
  const { region } = state;
  if (state.statuses === undefined)
    return {
      accountId,
      region,
      verdict: "no-administrator-detector",
      detail: "the administrator has no GuardDuty detector in this region",
    };
  if (!enabled)
    return {
      accountId,
      region,
      verdict: "region-not-enabled-for-account",
      detail: "an opt-in region the account has not enabled (account:ListRegions)",
    };
  const status = state.statuses.get(accountId);
  const plans = state.plans?.get(accountId);
  const verdict = pairVerdict(status, plans, profile, region);
  if (status === undefined) return { accountId, region, verdict, detail: "not listed by the administrator" };
  const detail =
    status !== "Enabled"
      ? status
      : plans === undefined
        ? `plans not read: ${state.unreadable?.get(accountId) ?? "GetMemberDetectors did not answer for this member"}`
        : verdict === "protected"
          ? "Enabled, plans = profile"
          : differences(plansFor(profile, region), plans).join("; ");
  return { accountId, region, status, verdict, detail };
}

/** Counts of one set of verdicts: the desired pairs, those protected, and the ratio (0–1). */
export interface CoverageSummary {
  /** Pairs the stage is responsible for: every verdict but `UNDESIRED`'s. */
  readonly desired: number;
  readonly protected: number;
  /** protected ÷ desired, 0–1; 1 when nothing is desired. */
  readonly ratio: number;
  readonly byVerdict: Readonly<Record<Verdict, number>>;
}

export function summarize(pairs: readonly PairVerdict[]): CoverageSummary {
  const byVerdict = Object.fromEntries(VERDICTS.map((verdict) => [verdict, 0])) as Record<Verdict, number>;
  for (const { verdict } of pairs) byVerdict[verdict]++;
  return summaryOf(byVerdict);
}

/** The summary of verdict counts (a reconcile run sums its units' counts). */
export function summaryOf(byVerdict: Readonly<Record<Verdict, number>>): CoverageSummary {
  const desired = VERDICTS.filter((verdict) => !UNDESIRED.has(verdict)).reduce(
    (sum, verdict) => sum + byVerdict[verdict],
    0,
  );
  const covered = byVerdict.protected;
  return {
    desired,
    protected: covered,
    ratio: desired === 0 ? 1 : covered / desired,
    byVerdict: { ...byVerdict },
  };
}

/**
 * The repair of a verdict, as the request step it resumes at: `onboard` (a fresh request:
 * CreateMembers and, in invitation mode, InviteMembers again — `members.ts` re-invites a Removed,
 * Resigned or Created member), `accept` (the member side only: the invitation is out), `verify`
 * (the administrator reads and applies the plans; a Disabled member's monitoring is started again
 * first, `member-protection.ts`), `recreate` (an `EmailVerificationFailed` member is deleted and
 * onboarded again with the account's e-mail read afresh — the GuardDuty User Guide's repair), or none:
 * `no-administrator-detector` needs an administrator detector, and `region-not-enabled-for-account`
 * the account's own opt-in.
 */
export type Repair = "onboard" | Step;

export interface RepairOptions {
  readonly mode: MembershipMode;
  /** Invitation mode: the accept function enters members (`acceptInvitations`). */
  readonly acceptInvitations: boolean;
}

export function repairOf(pair: PairVerdict, options: RepairOptions): Repair | undefined {
  switch (pair.verdict) {
    case "not-a-member":
    case "removed":
    case "resigned":
      return "onboard";
    case "invited-not-accepted":
      // Created was never invited; organization mode enables with CreateMembers alone.
      if (pair.status === "Created" || options.mode === "organization") return "onboard";
      return options.acceptInvitations ? "accept" : undefined;
    case "plans-differ":
    case "monitoring-stopped":
      return "verify";
    case "email-verification-failed":
      // Organization mode as well: the member was invited once, and CreateMembers alone enables it again.
      return "recreate";
    default:
      return undefined;
  }
}

/** One request per (account, repair), naming the regions that need it, in the order of `pairs`. */
export function repairRequests(
  pairs: readonly PairVerdict[],
  options: RepairOptions & {
    readonly origin: OnboardingRequest["origin"];
    readonly requestedAt: string;
    readonly correlationId?: string;
  },
): { key: string; request: OnboardingRequest }[] {
  const grouped = new Map<string, { repair: Repair; accountId: string; regions: string[] }>();
  for (const pair of pairs) {
    const repair = repairOf(pair, options);
    if (repair === undefined) continue;
    const key = `${pair.accountId}-${repair}`;
    const entry = grouped.get(key) ?? { repair, accountId: pair.accountId, regions: [] };
    entry.regions.push(pair.region);
    grouped.set(key, entry);
  }
  return [...grouped].map(([key, { repair, accountId, regions }]) => ({
    key,
    request: {
      version: 1,
      accountId,
      regions,
      attempt: 0,
      origin: options.origin,
      requestedAt: options.requestedAt,
      correlationId: options.correlationId,
      ...(repair !== "onboard" && { step: repair }),
    },
  }));
}

/** Regions read at once: GuardDuty throttles per API and region, this only bounds the process's own burst. */
const REGION_CONCURRENCY = 8;

export type CoverageProgress =
  | { readonly phase: "accounts"; readonly listed: number }
  | { readonly phase: "members"; readonly region: string; readonly done: number; readonly total: number };

export interface PairsOptions {
  readonly regions: readonly string[];
  readonly profile: Profile;
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: CoverageProgress) => void;
  /** Asked before each region is read: false leaves it (and those after it) for later (`regionsLeft`). */
  readonly mayStart?: () => boolean;
}

export interface PairsReport {
  /** Every (account, region) of the regions read, account by account in the order given. */
  readonly pairs: readonly PairVerdict[];
  /** Regions read, in the order of `regions`. */
  readonly regionsRead: readonly string[];
  /** Regions not started because `mayStart` said no. */
  readonly regionsLeft: readonly string[];
  /** Regions whose members could not be read, with why: left out, never guessed. */
  readonly regionsFailed: Readonly<Record<string, string>>;
  /** Accounts whose opt-in status could not be read, with why: their pairs are judged as if enabled. */
  readonly optInsFailed: Readonly<Record<string, string>>;
}

/**
 * The verdict of every (account, region) for the given desired accounts: per region, GetMembers and
 * GetMemberDetectors (≤ 50 ids a call), and — only when a region read is an opt-in region — each
 * account's opt-in status (`regions.ts`). A region that cannot be read is reported and left out. The
 * reconcile's units call it on a chunk of the organization; `readCoverage` on all of it.
 */
export async function readPairs(
  clients: Pick<Clients, "guardduty" | "account">,
  accountIds: readonly string[],
  options: PairsOptions,
): Promise<PairsReport> {
  const { signal, onProgress } = options;
  let done = 0;
  const left: string[] = [];
  const states = await mapWithConcurrency(options.regions, REGION_CONCURRENCY, async (region) => {
    if (left.length > 0 || (options.mayStart && !options.mayStart())) {
      left.push(region);
      return undefined;
    }
    try {
      return await readRegion(clients.guardduty(region), region, accountIds, signal);
    } catch (error) {
      return new Error(describeError(error));
    } finally {
      onProgress?.({ phase: "members", region, done: ++done, total: options.regions.length });
    }
  });
  const regionsFailed: Record<string, string> = {};
  const read: RegionState[] = [];
  for (const [index, region] of options.regions.entries()) {
    const state = states[index];
    if (state instanceof Error) regionsFailed[region] = state.message;
    else if (state) read.push(state);
  }
  const optIns: OptIns = await readOptIns(
    clients.account,
    accountIds,
    read.filter((state) => state.statuses !== undefined).map((state) => state.region),
    signal,
  );
  const pairs = accountIds.flatMap((accountId) =>
    read.map((state) =>
      verdictOf(accountId, state, options.profile, regionEnabled(optIns, accountId, state.region)),
    ),
  );
  return {
    pairs,
    regionsRead: read.map((state) => state.region),
    regionsLeft: options.regions.filter((region) => left.includes(region)),
    regionsFailed,
    optInsFailed: Object.fromEntries(optIns.unread),
  };
}

export interface CoverageOptions {
  readonly regions: readonly string[];
  readonly profile: Profile;
  readonly administratorAccountId?: string;
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: CoverageProgress) => void;
}

export interface CoverageReport {
  /** Every (account, region) of the regions read, account by account in the organization's order. */
  readonly pairs: readonly PairVerdict[];
  readonly summary: CoverageSummary;
  readonly accounts: number;
  /** Suspended, closed or closing accounts: not desired. */
  readonly inactive: number;
  /** Regions whose members could not be read, with why: left out, never guessed. */
  readonly regionsFailed: Readonly<Record<string, string>>;
  /** Accounts whose opt-in status could not be read, with why: their pairs are judged as if enabled. */
  readonly optInsFailed: Readonly<Record<string, string>>;
}

/** The organization's desired accounts: active, not the administrator. */
export function desiredAccounts(
  accounts: readonly OrganizationAccount[],
  administratorAccountId: string | undefined,
): string[] {
  return accounts
    .filter(({ accountId, active }) => active && accountId !== administratorAccountId)
    .map(({ accountId }) => accountId);
}

/**
 * The whole organization in one process (`gd-onboard coverage`, the local summary): every account
 * (Organizations ListAccounts), then {@link readPairs} on the desired ones. An Organizations failure is
 * raised as it is. The scheduled reconcile reads the same way, a chunk of accounts per unit
 * (`reconcile.ts`).
 */
export async function readCoverage(
  clients: Pick<Clients, "organizations" | "guardduty" | "account">,
  options: CoverageOptions,
): Promise<CoverageReport> {
  const { signal, onProgress } = options;
  const accounts = await listOrganizationAccounts(clients.organizations, {
    signal,
    onPage: (listed) => onProgress?.({ phase: "accounts", listed }),
  });
  const { pairs, regionsFailed, optInsFailed } = await readPairs(
    clients,
    desiredAccounts(accounts, options.administratorAccountId),
    options,
  );
  return {
    pairs,
    summary: summarize(pairs),
    accounts: accounts.length,
    inactive: accounts.filter((account) => !account.active).length,
    regionsFailed,
    optInsFailed,
  };
}

/**
 * One region as the administrator sees it, for the given accounts: the relationship status of each
 * (GetMembers, ≤ 50 ids a call; an account GuardDuty does not know is absent from the answer), then the
 * plans of the Enabled ones (GetMemberDetectors, ≤ 50 ids a call).
 */
export async function readRegion(
  guardduty: GuardDutyClient,
  region: string,
  accountIds: readonly string[],
  signal?: AbortSignal,
): Promise<RegionState> {
  const detectorId = await findDetector(guardduty, signal);
  if (!detectorId) return { region };
  const statuses = new Map<string, string>();
  for (const member of await getMembers(guardduty, detectorId, accountIds, signal))
    if (member.AccountId && member.RelationshipStatus)
      statuses.set(member.AccountId, member.RelationshipStatus);
  const plans = new Map<string, ActualPlans>();
  const unreadable = new Map<string, string>();
  const enabled = [...statuses].filter(([, status]) => status === "Enabled").map(([id]) => id);
  for (const part of chunk(enabled, MAX_ACCOUNTS_PER_CALL)) {
    const answer = await guardduty.send(
      new GetMemberDetectorsCommand({ DetectorId: detectorId, AccountIds: part }),
      { abortSignal: signal },
    );
    for (const member of answer.MemberDataSourceConfigurations ?? [])
      if (member.AccountId) plans.set(member.AccountId, actualPlans(member.Features));
    for (const { AccountId, Result } of answer.UnprocessedAccounts ?? [])
      if (AccountId) unreadable.set(AccountId, redact(Result ?? "(no result text)"));
  }
  return { region, statuses, plans, unreadable };
}
