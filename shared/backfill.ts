import type { GuardDutyClient } from "@aws-sdk/client-guardduty";
import type { OrganizationsClient } from "@aws-sdk/client-organizations";
import type { Clients } from "./clients.ts";
import { mapWithConcurrency } from "./concurrency.ts";
import { enqueue } from "./enqueue.ts";
import { findDetector, listMembers, NEEDS_NO_INVITATION, NOT_A_MEMBER } from "./guardduty.ts";
import type { OnboardingRequest } from "./message.ts";
import { isActive, listAccounts } from "./organizations.ts";
import { describeError } from "./privacy.ts";

/**
 * Backfill and reconciliation: compare the organization with the administrator's members in every
 * region, and enqueue one onboarding request per account that is missing somewhere. The pipeline then
 * does the onboarding, exactly as for an event. `gd-onboard backfill` (first deployment) runs it; the
 * scheduled `reconcile` function gives every pair a coverage verdict instead (`coverage.ts`), and
 * shares the organization listing.
 */

/** Regions listed at once: GuardDuty throttles per region, this only bounds the process's own burst. */
const REGION_CONCURRENCY = 4;

/** An organization account as backfill needs it: no e-mail (PII), only whether it can be onboarded. */
export interface OrganizationAccount {
  readonly accountId: string;
  readonly active: boolean;
}

/** One (account, region) where the account is not where it should be. */
export interface Gap {
  readonly accountId: string;
  readonly region: string;
  /** The relationship status found, or {@link NOT_A_MEMBER}. */
  readonly status: string;
}

export interface PlanInput {
  readonly accounts: readonly OrganizationAccount[];
  /** Relationship status by account id, for each region whose members were listed. */
  readonly members: ReadonlyMap<string, ReadonlyMap<string, string>>;
  readonly administratorAccountId?: string;
  readonly origin: "backfill" | "reconcile";
  readonly requestedAt: string;
  /** One id for every request of a run: one log query finds the whole run. */
  readonly correlationId?: string;
}

/** The drift found: counts only, safe to log. */
export interface Drift {
  readonly accounts: number;
  /** Suspended, closed or closing accounts: never onboarded. */
  readonly inactive: number;
  readonly regions: readonly string[];
  /** (account, region) pairs not where they should be. */
  readonly missing: number;
  readonly missingByStatus: Readonly<Record<string, number>>;
  readonly accountsToOnboard: number;
}

export interface Plan {
  readonly gaps: readonly Gap[];
  /** One request per account, `regions` = where it is missing. */
  readonly requests: readonly OnboardingRequest[];
  readonly drift: Drift;
}

/** Decides what to enqueue: every active account but the administrator, in each region where it is missing. */
export function planBackfill(input: PlanInput): Plan {
  const regions = [...input.members.keys()];
  const gaps: Gap[] = [];
  const requests: OnboardingRequest[] = [];
  const missingByStatus: Record<string, number> = {};
  let inactive = 0;
  for (const { accountId, active } of input.accounts) {
    if (!active) inactive++;
    if (!active || accountId === input.administratorAccountId) continue;
    const missingIn: string[] = [];
    for (const region of regions) {
      const status = input.members.get(region)?.get(accountId) ?? NOT_A_MEMBER;
      // Invited, being verified or associated: the pipeline would find nothing to do.
      if (NEEDS_NO_INVITATION.has(status)) continue;
      missingIn.push(region);
      gaps.push({ accountId, region, status });
      missingByStatus[status] = (missingByStatus[status] ?? 0) + 1;
    }
    if (missingIn.length === 0) continue;
    requests.push({
      version: 1,
      accountId,
      regions: missingIn,
      attempt: 0,
      origin: input.origin,
      requestedAt: input.requestedAt,
      correlationId: input.correlationId,
    });
  }
  return {
    gaps,
    requests,
    drift: {
      accounts: input.accounts.length,
      inactive,
      regions,
      missing: gaps.length,
      missingByStatus,
      accountsToOnboard: requests.length,
    },
  };
}

/** Every account of the organization (`organizations.ts` pages it), without e-mails. */
export async function listOrganizationAccounts(
  organizations: OrganizationsClient,
  options: { readonly signal?: AbortSignal; readonly onPage?: (listed: number) => void } = {},
): Promise<OrganizationAccount[]> {
  const accounts: OrganizationAccount[] = [];
  for await (const page of listAccounts(organizations, options.signal)) {
    for (const account of page)
      if (account.Id) accounts.push({ accountId: account.Id, active: isActive(account) });
    options.onPage?.(accounts.length);
  }
  return accounts;
}

/**
 * The administrator's members in one region, by account id → relationship status; `undefined` when
 * the administrator has no detector there (GuardDuty not enabled).
 */
export async function listRegionMembers(
  guardduty: GuardDutyClient,
  signal?: AbortSignal,
): Promise<Map<string, string> | undefined> {
  const detectorId = await findDetector(guardduty, signal);
  if (!detectorId) return undefined;
  const members = new Map<string, string>();
  for await (const page of listMembers(guardduty, detectorId, signal)) {
    for (const member of page) {
      if (member.AccountId) members.set(member.AccountId, member.RelationshipStatus ?? NOT_A_MEMBER);
    }
  }
  return members;
}

export type BackfillProgress =
  | { readonly phase: "accounts"; readonly listed: number }
  | { readonly phase: "members"; readonly region: string; readonly done: number; readonly total: number }
  | { readonly phase: "enqueue"; readonly sent: number; readonly total: number };

export interface BackfillOptions {
  readonly regions: readonly string[];
  readonly onboardingQueueUrl: string;
  readonly origin: "backfill" | "reconcile";
  readonly administratorAccountId?: string;
  readonly correlationId?: string;
  /** Plan only: nothing is sent. */
  readonly dryRun?: boolean;
  readonly now?: () => Date;
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: BackfillProgress) => void;
}

export interface BackfillReport {
  readonly plan: Plan;
  /** Regions where the administrator has no detector: nothing can join there until GuardDuty is enabled. */
  readonly regionsWithoutDetector: readonly string[];
  /** Regions whose members could not be listed, with why: they were left out of the comparison. */
  readonly regionsFailed: Readonly<Record<string, string>>;
  /** Account ids whose request SQS confirmed. */
  readonly enqueued: readonly string[];
  /** Account ids whose request was not confirmed, with why. */
  readonly failed: Readonly<Record<string, string>>;
}

/**
 * Lists the organization and every region's members, plans, and enqueues the requests on
 * OnboardingQueue. A region that cannot be listed is reported and left out, never guessed: its
 * accounts are neither enqueued nor counted as drift. An Organizations failure is raised as it is.
 */
export async function backfill(
  clients: Pick<Clients, "organizations" | "guardduty" | "sqs">,
  options: BackfillOptions,
): Promise<BackfillReport> {
  const { signal, onProgress } = options;
  const requestedAt = (options.now?.() ?? new Date()).toISOString();
  const accounts = await listOrganizationAccounts(clients.organizations, {
    signal,
    onPage: (listed) => onProgress?.({ phase: "accounts", listed }),
  });

  const members = new Map<string, ReadonlyMap<string, string>>();
  const regionsWithoutDetector: string[] = [];
  const regionsFailed: Record<string, string> = {};
  let done = 0;
  const listed = await mapWithConcurrency(options.regions, REGION_CONCURRENCY, async (region) => {
    try {
      return await listRegionMembers(clients.guardduty(region), signal);
    } catch (error) {
      return new Error(describeError(error));
    } finally {
      onProgress?.({ phase: "members", region, done: ++done, total: options.regions.length });
    }
  });
  for (const [index, region] of options.regions.entries()) {
    const result = listed[index];
    if (result instanceof Error) regionsFailed[region] = result.message;
    else if (result === undefined) regionsWithoutDetector.push(region);
    else members.set(region, result);
  }

  const plan = planBackfill({
    accounts,
    members,
    administratorAccountId: options.administratorAccountId,
    origin: options.origin,
    requestedAt,
    correlationId: options.correlationId,
  });
  if (options.dryRun || plan.requests.length === 0) {
    return { plan, regionsWithoutDetector, regionsFailed, enqueued: [], failed: {} };
  }
  const total = plan.requests.length;
  const { sent, failed } = await enqueue(
    clients.sqs,
    options.onboardingQueueUrl,
    plan.requests.map((request) => ({ key: request.accountId, body: JSON.stringify(request) })),
    { signal, onBatch: (count) => onProgress?.({ phase: "enqueue", sent: count, total }) },
  );
  return {
    plan,
    regionsWithoutDetector,
    regionsFailed,
    enqueued: sent,
    failed: Object.fromEntries(failed),
  };
}
