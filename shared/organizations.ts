import { type Account, ListAccountsCommand, type OrganizationsClient } from "@aws-sdk/client-organizations";

/**
 * The facts about AWS Organizations the project relies on, in one place (Organizations API model,
 * botocore `organizations/2016-11-28`, and the Organizations User Guide).
 */

/** Organizations is a global service whose endpoint lives in us-east-1 (its `aws:RequestedRegion`). */
export const ORGANIZATIONS_REGION = "us-east-1";
/** `ListAccounts` returns at most 20 accounts a page (`MaxResults` 1–20). */
export const LIST_PAGE_SIZE = 20;

/** Pages a listing of `accounts` accounts takes. */
export function listingPages(accounts: number): number {
  return Math.max(1, Math.ceil(accounts / LIST_PAGE_SIZE));
}

/**
 * Whether an account can be onboarded. `State` (PENDING_ACTIVATION, ACTIVE, SUSPENDED, PENDING_CLOSURE,
 * CLOSED) supersedes `Status`, which AWS retired in September 2026; either says ACTIVE or not.
 */
export function isActive(account: Pick<Account, "State" | "Status">): boolean {
  return (account.State ?? account.Status ?? "ACTIVE") === "ACTIVE";
}

/** One ListAccounts page from `nextToken` (absent: the first), and the token of the next (absent: the last). */
export async function listAccountsPage(
  organizations: OrganizationsClient,
  nextToken: string | undefined,
  signal?: AbortSignal,
): Promise<{ readonly accounts: Account[]; readonly nextToken?: string }> {
  const page = await organizations.send(
    new ListAccountsCommand({ NextToken: nextToken, MaxResults: LIST_PAGE_SIZE }),
    { abortSignal: signal },
  );
  return { accounts: page.Accounts ?? [], nextToken: page.NextToken };
}

/** Every account of the organization, page by page (each page needs the previous page's token). */
export async function* listAccounts(
  organizations: OrganizationsClient,
  signal?: AbortSignal,
): AsyncGenerator<Account[]> {
  let nextToken: string | undefined;
  do {
    const page = await listAccountsPage(organizations, nextToken, signal);
    yield page.accounts;
    nextToken = page.nextToken;
  } while (nextToken);
}
