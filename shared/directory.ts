import { randomUUID } from "node:crypto";
import {
  type Account,
  DescribeAccountCommand,
  type OrganizationsClient,
} from "@aws-sdk/client-organizations";
import { classifyError, type Decision } from "./classify.ts";
import { mapWithConcurrency } from "./concurrency.ts";
import { type AccountInfo, type DirectoryStore, ENTRY_TTL_SECONDS } from "./directory-store.ts";
import { isActive, LIST_PAGE_SIZE, listAccounts, listingPages } from "./organizations.ts";
import { describeError } from "./privacy.ts";

export type { AccountInfo } from "./directory-store.ts";

export type AccountLookup =
  | { readonly found: true; readonly account: AccountInfo }
  | { readonly found: false; readonly decision: Decision; readonly detail: string };

/** DescribeAccount calls in flight at once: Organizations throttles across all of its APIs. */
const DESCRIBE_CONCURRENCY = 4;
/** The listing lease lasts this long unless renewed, page by page, by the container that lists. */
const LEASE_MS = 30_000;
/** How often a container waiting for another's listing looks for the accounts it needs. */
const WAIT_POLL_MS = 250;

/**
 * E-mail and state of organization accounts, at the least cost in Organizations calls. Each lookup
 * takes the cheaper path: one `DescribeAccount` per unknown account, or the paged `ListAccounts` (20 a
 * page) when that costs fewer calls. What is learnt is kept for the container's life and, with a
 * {@link DirectoryStore}, shared with the function's other containers: a burst is listed once, by the
 * container that takes the listing lease, while the others wait for its pages instead of listing too.
 */
export class AccountDirectory {
  readonly #organizations: OrganizationsClient;
  readonly #store?: DirectoryStore;
  readonly #cache = new Map<string, AccountInfo>();
  readonly #owner = randomUUID();
  #organizationSize: number | undefined;
  /**
   * Told when a cheaper path fails: the shared store (the directory then serves from Organizations
   * alone) or the listing (then each account is described). Neither fails a lookup.
   */
  readonly #onError: (path: "store" | "listing", error: unknown) => void;

  constructor(
    organizations: OrganizationsClient,
    options: {
      readonly store?: DirectoryStore;
      readonly onError?: (path: "store" | "listing", error: unknown) => void;
    } = {},
  ) {
    this.#organizations = organizations;
    this.#store = options.store;
    this.#onError = options.onError ?? (() => undefined);
  }

  /** Drops a cached account, so that the next lookup asks Organizations again (e.g. e-mail missing). */
  forget(accountId: string): void {
    this.#cache.delete(accountId);
  }

  /**
   * Looks the accounts up. `since`: when the newest of them is known to have existed (its event's time),
   * so that a listing started later certainly holds it. `fresh`: accounts whose e-mail must be read from
   * Organizations now (`DescribeAccount`), not from this container, the shared store or a listing — the
   * repair of an e-mail that failed verification must not reuse what it was built from.
   */
  async lookup(
    accountIds: readonly string[],
    options: {
      readonly since?: number;
      readonly fresh?: ReadonlySet<string>;
      readonly signal?: AbortSignal;
    } = {},
  ): Promise<Map<string, AccountLookup>> {
    const { signal } = options;
    const fresh = options.fresh ?? new Set<string>();
    // A listing older than an entry's life no longer holds these accounts in the store: list again.
    const since = Math.max(options.since ?? Date.now(), Date.now() - ENTRY_TTL_SECONDS * 1000);
    const results = new Map<string, AccountLookup>();
    const remaining = () =>
      [...new Set(accountIds)].filter((id) => !fresh.has(id) && !this.#cached(id, results));
    let wanted = remaining();
    if (wanted.length > 0 && this.#store) {
      await this.#shared(async (store) => this.#remember(await store.get(wanted, signal)));
      wanted = remaining();
    }
    if (wanted.length > 0 && wanted.length >= this.#listingCost()) {
      await this.#listOnce(wanted, since, signal);
      wanted = remaining();
    }
    wanted.push(...new Set(accountIds.filter((id) => fresh.has(id))));
    const described = await mapWithConcurrency(wanted, DESCRIBE_CONCURRENCY, (id) =>
      this.#describe(id, signal),
    );
    const learnt: AccountInfo[] = [];
    for (const [index, accountId] of wanted.entries()) {
      const lookup = described[index] as AccountLookup;
      results.set(accountId, lookup);
      if (lookup.found) learnt.push(lookup.account);
    }
    if (learnt.length > 0) await this.#shared((store) => store.put(learnt, signal));
    return results;
  }

  #cached(accountId: string, results: Map<string, AccountLookup>): boolean {
    const account = this.#cache.get(accountId);
    if (account) results.set(accountId, { found: true, account });
    return account !== undefined;
  }

  #remember(accounts: Iterable<AccountInfo> | Map<string, AccountInfo>): void {
    for (const account of accounts instanceof Map ? accounts.values() : accounts) {
      this.#cache.set(account.accountId, account);
    }
  }

  /** Calls a full listing would take; before anyone listed, assume it is no larger than the need. */
  #listingCost(): number {
    return this.#organizationSize === undefined ? LIST_PAGE_SIZE : listingPages(this.#organizationSize);
  }

  /**
   * Lists the organization once for all containers: with the lease, this one lists; without it, another
   * does (or did, after `since`), and this one waits until the accounts it needs are in the store or the
   * lease is released. Without a store, it lists for itself.
   */
  async #listOnce(wanted: readonly string[], since: number, signal?: AbortSignal): Promise<void> {
    const store = this.#store;
    if (!store) {
      await this.#list(signal);
      return;
    }
    const listed = await this.#shared(async () => {
      if (await store.acquire(this.#owner, LEASE_MS, since, signal)) return this.#listShared(store, signal);
      await this.#awaitListing(store, wanted, since, signal);
    });
    // The store failed: list for this container alone rather than fail the batch.
    if (listed === false) await this.#list(signal);
  }

  /**
   * Lists with the lease: each page into the store, the lease renewed as it goes, released at the end.
   * A store that fails part-way is told as the store's failure; the listing goes on for this container.
   */
  async #listShared(store: DirectoryStore, signal?: AbortSignal): Promise<void> {
    let storeFailed = false;
    const complete = await this.#list(signal, async (page) => {
      if (storeFailed) return;
      try {
        await store.put(page, signal);
        await store.renew(this.#owner, LEASE_MS, signal);
      } catch (error) {
        storeFailed = true;
        this.#onError("store", error);
      }
    });
    if (!storeFailed) await store.release(this.#owner, complete ? this.#organizationSize : undefined, signal);
  }

  async #awaitListing(store: DirectoryStore, wanted: readonly string[], since: number, signal?: AbortSignal) {
    let missing = [...wanted];
    for (;;) {
      this.#remember(await store.get(missing, signal));
      missing = missing.filter((id) => !this.#cache.has(id));
      const listing = await store.listing(signal);
      if (listing.organizationSize !== undefined) this.#organizationSize = listing.organizationSize;
      const busy = listing.leaseUntil > Date.now() && listing.owner !== this.#owner;
      if (missing.length === 0 || (!busy && listing.startedAt >= since)) return;
      // Free, and no listing since these accounts existed: list them after all.
      if (!busy) {
        if (await store.acquire(this.#owner, LEASE_MS, since, signal)) return this.#listShared(store, signal);
        continue;
      }
      await new Promise((resolve) => setTimeout(resolve, WAIT_POLL_MS));
      signal?.throwIfAborted();
    }
  }

  /**
   * Pages through the whole of ListAccounts, remembering every account: new accounts come last, so
   * stopping early saves little, and a full listing serves every later batch.
   */
  async #list(signal?: AbortSignal, onPage?: (page: AccountInfo[]) => Promise<void>): Promise<boolean> {
    let seen = 0;
    try {
      for await (const accounts of listAccounts(this.#organizations, signal)) {
        const page = accounts.map(toInfo).filter((info): info is AccountInfo => info !== undefined);
        this.#remember(page);
        seen += page.length;
        await onPage?.(page);
      }
      this.#organizationSize = seen;
      return true;
    } catch (error) {
      // The listing is only a cheaper path: what it did not find is described one by one.
      this.#onError("listing", error);
      return false;
    }
  }

  /** Runs a step on the shared store; a failing store is told once per failure and answers `false`. */
  async #shared<T>(step: (store: DirectoryStore) => Promise<T>): Promise<T | false | undefined> {
    if (!this.#store) return undefined;
    try {
      return await step(this.#store);
    } catch (error) {
      this.#onError("store", error);
      return false;
    }
  }

  async #describe(accountId: string, signal?: AbortSignal): Promise<AccountLookup> {
    try {
      const { Account: account } = await this.#organizations.send(
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
  return { accountId: account.Id, email: account.Email || undefined, active: isActive(account) };
}
