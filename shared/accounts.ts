import {
  type Account,
  DescribeAccountCommand,
  ListAccountsCommand,
  type OrganizationsClient,
} from "@aws-sdk/client-organizations";
import { classifyError, type Decision } from "./classify.ts";
import { mapWithConcurrency } from "./concurrency.ts";
import { describeError } from "./privacy.ts";

/** What onboarding needs of an organization account. The e-mail is PII: it never reaches a log line. */
export interface AccountInfo {
  readonly accountId: string;
  readonly email?: string;
  /** `ACTIVE`, `SUSPENDED`, `PENDING_CLOSURE` (Status) or `CLOSED`… (State, the newer field). */
  readonly active: boolean;
}

export type AccountLookup =
  | { readonly found: true; readonly account: AccountInfo }
  | { readonly found: false; readonly decision: Decision; readonly detail: string };

/** `ListAccounts` returns at most 20 accounts a page (Organizations API model, `MaxResults` 1–20). */
export const LIST_PAGE_SIZE = 20;
/** DescribeAccount calls in flight at once: Organizations throttles across all of its APIs. */
const DESCRIBE_CONCURRENCY = 4;

/**
 * E-mail and state of organization accounts, cached for the life of the container. Each lookup takes
 * the cheaper path: one `DescribeAccount` per unknown account, or the paged `ListAccounts` (20 a page,
 * and every account on every page is cached) when that costs fewer calls. The organization's size is
 * learnt from the first listing; until then a listing is assumed to cost one page per 20 wanted accounts.
 */
export class AccountDirectory {
  readonly #client: OrganizationsClient;
  readonly #cache = new Map<string, AccountInfo>();
  #organizationSize: number | undefined;

  constructor(client: OrganizationsClient) {
    this.#client = client;
  }

  /** Drops a cached account, so that the next lookup asks Organizations again (e.g. e-mail missing). */
  forget(accountId: string): void {
    this.#cache.delete(accountId);
  }

  async lookup(accountIds: readonly string[], signal?: AbortSignal): Promise<Map<string, AccountLookup>> {
    const results = new Map<string, AccountLookup>();
    let wanted = [...new Set(accountIds)].filter((id) => !this.#cached(id, results));
    if (wanted.length > 0 && wanted.length >= this.#listingCost()) {
      try {
        await this.#list(signal);
      } catch {
        // The listing is only a cheaper path: what it did not find is described one by one below.
      }
      wanted = wanted.filter((id) => !this.#cached(id, results));
    }
    await mapWithConcurrency(wanted, DESCRIBE_CONCURRENCY, async (accountId) => {
      results.set(accountId, await this.#describe(accountId, signal));
    });
    return results;
  }

  #cached(accountId: string, results: Map<string, AccountLookup>): boolean {
    const account = this.#cache.get(accountId);
    if (account) results.set(accountId, { found: true, account });
    return account !== undefined;
  }

  /** Calls a full listing would take; before the first listing, assume it is no larger than the need. */
  #listingCost(): number {
    return this.#organizationSize === undefined
      ? LIST_PAGE_SIZE
      : Math.max(1, Math.ceil(this.#organizationSize / LIST_PAGE_SIZE));
  }

  /**
   * Pages through the whole of ListAccounts, caching every account: new accounts come last, so stopping
   * early saves little, and a full listing serves every later batch of this container.
   */
  async #list(signal?: AbortSignal): Promise<void> {
    let nextToken: string | undefined;
    let seen = 0;
    do {
      const page = await this.#client.send(
        new ListAccountsCommand({ NextToken: nextToken, MaxResults: LIST_PAGE_SIZE }),
        { abortSignal: signal },
      );
      for (const account of page.Accounts ?? []) {
        const info = toInfo(account);
        if (!info) continue;
        this.#cache.set(info.accountId, info);
        seen++;
      }
      nextToken = page.NextToken;
    } while (nextToken);
    this.#organizationSize = seen;
  }

  async #describe(accountId: string, signal?: AbortSignal): Promise<AccountLookup> {
    try {
      const { Account: account } = await this.#client.send(
        new DescribeAccountCommand({ AccountId: accountId }),
        {
          abortSignal: signal,
        },
      );
      const info = account && toInfo(account);
      if (!info)
        throw Object.assign(new Error("DescribeAccount returned no account"), { name: "EmptyAnswer" });
      this.#cache.set(accountId, info);
      return { found: true, account: info };
    } catch (error) {
      return { found: false, decision: classifyError(error), detail: describeError(error) };
    }
  }
}

function toInfo(account: Account): AccountInfo | undefined {
  if (!account.Id) return undefined;
  // `State` supersedes the deprecated `Status`; either says whether the account can be onboarded.
  const state = account.State ?? account.Status ?? "ACTIVE";
  return { accountId: account.Id, email: account.Email || undefined, active: state === "ACTIVE" };
}
