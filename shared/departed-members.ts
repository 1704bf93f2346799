import type { Member } from "@aws-sdk/client-guardduty";
import type { OnboardingRequest } from "./message.ts";

/**
 * Members whose account is no longer an active account of the organization — it left (Removed, Left,
 * Cleaned) or was closed (it stays SUSPENDED up to 90 days) — and whose lifecycle event was lost: verdict
 * `offboard-pending` (`coverage.ts`). The reconcile lists each region's members (ListMembers) once the
 * organization is listed and offboards such members with the same request a departure event makes
 * (`"action":"offboard"`, `lifecycle.ts`), so departures converge even when EventBridge drops the event.
 */

/** What the organization's listing knew of its accounts when the run read it. */
export interface OrganizationAccounts {
  readonly active: ReadonlySet<string>;
}

/**
 * The members of `members` whose account is not active in `organization`, but the administrator's own
 * record. A member created or changed after `listedFrom` (the run's start) is left alone: an account that
 * joined after the listing read the organization is not known to it, and is not departed.
 */
export function departedMembers(
  members: readonly Pick<Member, "AccountId" | "UpdatedAt">[],
  organization: OrganizationAccounts,
  options: { readonly administratorAccountId?: string; readonly listedFrom: string },
): string[] {
  const from = Date.parse(options.listedFrom);
  return members
    .filter(
      ({ AccountId, UpdatedAt }) =>
        AccountId !== undefined &&
        AccountId !== options.administratorAccountId &&
        !organization.active.has(AccountId) &&
        // No timestamp: not provably older than the listing, so not judged departed.
        UpdatedAt !== undefined &&
        Date.parse(UpdatedAt) < from,
    )
    .map(({ AccountId }) => AccountId as string);
}

/** One offboarding request per departed account, naming the regions it is still a member in. */
export function offboardRequests(
  departed: ReadonlyMap<string, readonly string[]>,
  options: { readonly requestedAt: string; readonly correlationId: string },
): { key: string; request: OnboardingRequest }[] {
  return [...departed].map(([accountId, regions]) => ({
    key: `${accountId}-offboard`,
    request: {
      version: 1,
      accountId,
      regions: [...regions],
      attempt: 0,
      origin: "reconcile",
      action: "offboard",
      requestedAt: options.requestedAt,
      correlationId: options.correlationId,
    },
  }));
}
