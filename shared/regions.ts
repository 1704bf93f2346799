import { type AccountClient, ListRegionsCommand } from "@aws-sdk/client-account";
import { mapWithConcurrency } from "./concurrency.ts";
import { describeError } from "./privacy.ts";

/**
 * Region opt-in, the facts the project relies on (AWS Account Management API, botocore
 * `account/2021-02-01`; AWS General Reference, "Enable or disable a Region"). Opt-in is per account: a
 * call into a region the account has not enabled answers `UnrecognizedClientException` (HTTP 403), so
 * an (account, region) the account has not enabled is not a gap to repair but a pair nobody can
 * protect until the account opts in — and the next reconcile onboards it then.
 */

/** The Account Management API is global; its endpoint lives in us-east-1 (its `aws:RequestedRegion`). */
export const ACCOUNT_REGION = "us-east-1";

/**
 * The regions an account must opt in to before it can use them (AWS General Reference, "Enable or
 * disable a Region"); every other region is enabled by default, so only these cost a ListRegions.
 */
export const OPT_IN_REGIONS: ReadonlySet<string> = new Set([
  "af-south-1",
  "ap-east-1",
  "ap-east-2",
  "ap-south-2",
  "ap-southeast-3",
  "ap-southeast-4",
  "ap-southeast-5",
  "ap-southeast-6",
  "ap-southeast-7",
  "ca-west-1",
  "eu-central-2",
  "eu-south-1",
  "eu-south-2",
  "il-central-1",
  "me-central-1",
  "me-south-1",
  "mx-central-1",
]);

/** Model `RegionOptStatus` values of a region the account can use (ENABLING is not usable yet). */
const USABLE: readonly string[] = ["ENABLED", "ENABLED_BY_DEFAULT"];
/** Model `ListRegionsRequest.MaxResults`: 1–50. */
const LIST_REGIONS_PAGE_SIZE = 50;
/** Accounts asked at once: one ListRegions each; bounds the process's own burst. */
const ACCOUNT_CONCURRENCY = 8;

/** Which of `regions` need the accounts' opt-in status read. */
export function optInRegionsOf(regions: readonly string[]): string[] {
  return regions.filter((region) => OPT_IN_REGIONS.has(region));
}

export interface OptIns {
  /** Account id → the managed opt-in regions it has not enabled (absent: it enabled them all). */
  readonly notEnabled: ReadonlyMap<string, ReadonlySet<string>>;
  /** Accounts whose opt-in status could not be read, with why: their pairs are judged as before. */
  readonly unread: ReadonlyMap<string, string>;
}

/** Whether `accountId` can use `region`, as far as `optIns` knows (unknown: yes). */
export function regionEnabled(optIns: OptIns | undefined, accountId: string, region: string): boolean {
  return !(optIns?.notEnabled.get(accountId)?.has(region) ?? false);
}

/**
 * The managed opt-in regions each account has not enabled: `account:ListRegions` with the member's
 * `AccountId` (the caller must be the management account or a delegated administrator of the
 * organization), filtered to the usable statuses, every page. No call at all when no managed region is
 * an opt-in region. An account that cannot be read is reported in `unread`, never guessed.
 */
export async function readOptIns(
  account: AccountClient,
  accountIds: readonly string[],
  regions: readonly string[],
  signal?: AbortSignal,
): Promise<OptIns> {
  const optIn = optInRegionsOf(regions);
  const notEnabled = new Map<string, ReadonlySet<string>>();
  const unread = new Map<string, string>();
  if (optIn.length === 0) return { notEnabled, unread };
  await mapWithConcurrency(accountIds, ACCOUNT_CONCURRENCY, async (accountId) => {
    try {
      const enabled = await enabledRegions(account, accountId, signal);
      const missing = optIn.filter((region) => !enabled.has(region));
      if (missing.length > 0) notEnabled.set(accountId, new Set(missing));
    } catch (error) {
      unread.set(accountId, describeError(error));
    }
  });
  return { notEnabled, unread };
}

/**
 * The regions an account can use: ListRegions filtered to the usable statuses, every page. Without
 * `accountId`, the caller's own account (resource type `account`); with one, a member of the
 * caller's organization (`accountInOrganization`).
 */
export async function enabledRegions(
  account: AccountClient,
  accountId: string | undefined,
  signal?: AbortSignal,
): Promise<Set<string>> {
  const enabled = new Set<string>();
  let nextToken: string | undefined;
  do {
    const page = await account.send(
      new ListRegionsCommand({
        AccountId: accountId,
        RegionOptStatusContains: [...USABLE] as ("ENABLED" | "ENABLED_BY_DEFAULT")[],
        MaxResults: LIST_REGIONS_PAGE_SIZE,
        NextToken: nextToken,
      }),
      { abortSignal: signal },
    );
    for (const { RegionName, RegionOptStatus } of page.Regions ?? [])
      if (RegionName && RegionOptStatus && USABLE.includes(RegionOptStatus)) enabled.add(RegionName);
    nextToken = page.NextToken;
  } while (nextToken);
  return enabled;
}
