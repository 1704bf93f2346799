import { DeleteTableCommand, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import {
  AccessDeniedException,
  type Account,
  AccountNotFoundException,
  DescribeAccountCommand,
  ListAccountsCommand,
  OrganizationsClient,
} from "@aws-sdk/client-organizations";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { AccountDirectory, type AccountLookup } from "#shared/directory";
import { DirectoryStore, ENTRY_TTL_SECONDS } from "#shared/directory-store";
import { type LocalDynamo, startLocalDynamo } from "../../local/dynamodb.ts";
import { accountIds } from "../support/events.ts";

/**
 * The account directory against a real DynamoDB-protocol server (dynalite, in memory, in this process)
 * holding the table serverless.yml declares, and Organizations mocked: what each container asks
 * Organizations, and what the containers share through the store.
 */

const TABLE = {
  name: "AccountDirectoryTable",
  properties: {
    KeySchema: [{ AttributeName: "accountId", KeyType: "HASH" }],
    AttributeDefinitions: [{ AttributeName: "accountId", AttributeType: "S" }],
    BillingMode: "PAY_PER_REQUEST",
  },
};
const CREDENTIALS = { accessKeyId: "local", secretAccessKey: "local" };
/** Time Organizations takes to answer a ListAccounts page: long enough for a second container to look meanwhile. */
const PAGE_MS = 150;

const organizations = mockClient(OrganizationsClient);
/** The organization, in ListAccounts order (new accounts last). */
const org = new Map<string, Account>();
let dynamo: LocalDynamo;
/** The stores' clock (epoch ms); the directory's lease waits run on real time. */
let clock: number;

const member = (id: string): Account => ({ Id: id, Email: `owner+${id}@example.com`, State: "ACTIVE" });
/** A container's directory on the shared table (each container has its own DynamoDB client). */
function container(
  options: { endpoint?: string; errors?: [string, unknown][]; now?: () => number } = {},
): AccountDirectory {
  const client = new DynamoDBClient({
    endpoint: options.endpoint ?? dynamo.endpoint,
    region: "us-east-1",
    credentials: CREDENTIALS,
    maxAttempts: 1,
  });
  const table = dynamo.tables.AccountDirectoryTable as string;
  return new AccountDirectory(new OrganizationsClient({ region: "us-east-1" }), {
    store: new DirectoryStore(client, table, options.now ?? (() => clock)),
    onError: (path, error) => options.errors?.push([path, error]),
  });
}
const emails = (lookups: Map<string, AccountLookup>) =>
  [...lookups].map(([id, lookup]) => [id, lookup.found ? lookup.account.email : undefined]);
const expected = (ids: readonly string[]) => ids.map((id) => [id, `owner+${id}@example.com`]);
const listCalls = () => organizations.commandCalls(ListAccountsCommand).length;
const describeCalls = () => organizations.commandCalls(DescribeAccountCommand).length;

beforeEach(async () => {
  dynamo = await startLocalDynamo([TABLE], "111111111111");
  clock = Date.now();
  org.clear();
  for (const id of accountIds(45)) org.set(id, member(id));
  organizations.reset();
  organizations.on(ListAccountsCommand).callsFake(async ({ NextToken }: { NextToken?: string }) => {
    await new Promise((resolve) => setTimeout(resolve, PAGE_MS));
    const all = [...org.values()];
    const start = Number(NextToken ?? 0);
    const next = start + 20 < all.length ? String(start + 20) : undefined;
    return { Accounts: all.slice(start, start + 20), NextToken: next };
  });
  organizations.on(DescribeAccountCommand).callsFake(async ({ AccountId }: { AccountId: string }) => {
    const account = org.get(AccountId);
    if (!account) {
      throw new AccountNotFoundException({ message: "not found", $metadata: { httpStatusCode: 400 } });
    }
    return { Account: account };
  });
});

afterEach(async () => {
  vi.useRealTimers();
  await dynamo.close();
});

describe("AccountDirectory with a shared store", () => {
  it("lists the organization once between two containers looking up a burst at the same time: the other waits and finds the accounts in the store", async () => {
    const burst = accountIds(30, 100000000015);
    const errors: [string, unknown][] = [];
    const [first, second] = [container({ errors }), container({ errors })];
    const since = Date.now() - 60_000;

    const [one, two] = await Promise.all([first.lookup(burst, { since }), second.lookup(burst, { since })]);

    expect(listCalls()).toBe(3); // one listing of 45 accounts, 20 a page
    expect(describeCalls()).toBe(0);
    expect(emails(one)).toEqual(expected(burst));
    expect(emails(two)).toEqual(expected(burst));
    expect(errors).toEqual([]);
  });

  it("lists again after another container's listing that started before its accounts existed", async () => {
    const older = accountIds(30, 100000000015);
    const newer = accountIds(20, 300000000000);
    let listingStarted: () => void = () => undefined;
    const started = new Promise<void>((resolve) => {
      listingStarted = resolve;
    });
    let pages = 0;
    organizations.on(ListAccountsCommand).callsFake(async ({ NextToken }: { NextToken?: string }) => {
      listingStarted();
      await new Promise((resolve) => setTimeout(resolve, PAGE_MS));
      const all = [...org.values()];
      const start = Number(NextToken ?? 0);
      const next = start + 20 < all.length ? String(start + 20) : undefined;
      // The newer accounts are created once the first listing has served its last page.
      if (++pages === 3) for (const id of newer) org.set(id, member(id));
      return { Accounts: all.slice(start, start + 20), NextToken: next };
    });
    const first = container().lookup(older, { since: clock - 60_000 });
    await started;

    const second = await container().lookup(newer, { since: clock + 1 });

    expect(emails(await first)).toEqual(expected(older));
    expect(emails(second)).toEqual(expected(newer));
    expect(listCalls()).toBe(3 + 4); // 45 accounts, then 65
    expect(describeCalls()).toBe(0);
  });

  it("serves a later container's burst from the store, without asking Organizations", async () => {
    const burst = accountIds(30, 100000000015);
    await container().lookup(burst, { since: Date.now() - 60_000 });
    const callsBefore = listCalls() + describeCalls();

    const later = await container().lookup(burst, { since: Date.now() - 60_000 });

    expect(emails(later)).toEqual(expected(burst));
    expect(listCalls() + describeCalls()).toBe(callsBefore);
  });

  it("describes a trickle (one account) and writes it to the store for the other containers", async () => {
    const [id] = accountIds(1, 100000000044) as [string];

    const found = await container().lookup([id]);
    const elsewhere = await container().lookup([id]);

    expect(emails(found)).toEqual(expected([id]));
    expect(emails(elsewhere)).toEqual(expected([id]));
    expect(listCalls()).toBe(0);
    expect(organizations.commandCalls(DescribeAccountCommand).map((call) => call.args[0].input)).toEqual([
      { AccountId: id },
    ]);
  });

  it("keeps an account's state and its missing e-mail in the store as Organizations gave them", async () => {
    const [suspended, noEmail] = accountIds(2, 200000000000) as [string, string];
    org.set(suspended, { Id: suspended, Email: "x@example.com", State: "SUSPENDED" });
    org.set(noEmail, { Id: noEmail, State: "ACTIVE" });
    await container().lookup([suspended, noEmail]);

    const elsewhere = await container().lookup([suspended, noEmail]);

    expect([...elsewhere.values()]).toEqual([
      { found: true, account: { accountId: suspended, email: "x@example.com", active: false } },
      { found: true, account: { accountId: noEmail, email: undefined, active: true } },
    ]);
    expect(describeCalls()).toBe(2);
  });

  it("does not serve an entry past its TTL: the account is described again", async () => {
    const [id] = accountIds(1, 100000000044) as [string];
    const written = clock;
    await container().lookup([id]);

    const justBefore = await container({ now: () => written + (ENTRY_TTL_SECONDS - 1) * 1000 }).lookup([id]);
    const callsBefore = describeCalls();
    const after = await container({ now: () => written + (ENTRY_TTL_SECONDS + 1) * 1000 }).lookup([id]);

    expect(callsBefore).toBe(1);
    expect(emails(justBefore)).toEqual(expected([id]));
    expect(emails(after)).toEqual(expected([id]));
    expect(describeCalls()).toBe(2);
  });

  it("answers an account Organizations does not know as not found, and keeps nothing of it", async () => {
    const outside = "999999999999";

    const first = await container().lookup([outside]);
    await container().lookup([outside]);

    expect(first.get(outside)).toEqual({
      found: false,
      decision: { verdict: "dead-letter", reason: "not-in-organization" },
      detail: "AccountNotFoundException: not found",
    });
    expect(describeCalls()).toBe(2);
  });

  it("answers an account DescribeAccount returns nothing for as not found, to be retried", async () => {
    organizations.on(DescribeAccountCommand).resolves({});
    const [id] = accountIds(1) as [string];

    const found = await container().lookup([id]);

    expect(found.get(id)).toEqual({
      found: false,
      decision: { verdict: "retry", reason: "service-unavailable" },
      detail: "EmptyAnswer: DescribeAccount returned no account",
    });
  });

  it("falls back to Organizations when the store's endpoint is unreachable, telling onError('store')", async () => {
    const endpoint = dynamo.endpoint;
    await dynamo.close();
    dynamo = await startLocalDynamo([TABLE], "111111111111"); // for afterEach; the first one is gone
    const errors: [string, unknown][] = [];
    const [id] = accountIds(1, 100000000044) as [string];
    const burst = accountIds(30, 100000000015);

    const trickle = await container({ endpoint, errors }).lookup([id]);
    const listed = await container({ endpoint, errors }).lookup(burst, { since: Date.now() - 60_000 });

    expect(emails(trickle)).toEqual(expected([id]));
    expect(emails(listed)).toEqual(expected(burst));
    expect(new Set(errors.map(([path]) => path))).toEqual(new Set(["store"]));
    expect(describeCalls()).toBe(1);
    expect(listCalls()).toBe(3);
  });

  it("describes each account when the listing fails, telling onError('listing'), and shares what it learnt", async () => {
    organizations
      .on(ListAccountsCommand)
      .rejects(new AccessDeniedException({ message: "no ListAccounts", $metadata: { httpStatusCode: 403 } }));
    const errors: [string, unknown][] = [];
    const burst = accountIds(25, 100000000020);

    const found = await container({ errors }).lookup(burst, { since: Date.now() - 60_000 });
    const elsewhere = await container({ errors }).lookup(burst, { since: Date.now() - 60_000 });

    expect(emails(found)).toEqual(expected(burst));
    expect(emails(elsewhere)).toEqual(expected(burst));
    expect(errors.map(([path]) => path)).toEqual(["listing"]);
    expect(errors[0]?.[1]).toBeInstanceOf(AccessDeniedException);
    expect(describeCalls()).toBe(25);
  });

  it("describes only the accounts a listing that failed part-way did not reach", async () => {
    organizations
      .on(ListAccountsCommand)
      .resolvesOnce({ Accounts: [...org.values()].slice(0, 20), NextToken: "20" })
      .rejects(new AccessDeniedException({ message: "no ListAccounts", $metadata: { httpStatusCode: 403 } }));
    const errors: [string, unknown][] = [];
    const burst = accountIds(25, 100000000010); // 10 on the first page, 15 after it

    const found = await container({ errors }).lookup(burst, { since: Date.now() - 60_000 });

    expect(emails(found)).toEqual(expected(burst));
    expect(errors.map(([path]) => path)).toEqual(["listing"]);
    expect(
      organizations
        .commandCalls(DescribeAccountCommand)
        .map((call) => call.args[0].input.AccountId)
        .sort(),
    ).toEqual(accountIds(15, 100000000020));
  });
});

describe("AccountDirectory with a shared store, over time and failures", () => {
  // Fails today (shared/directory.ts): a listing's `startedAt` outlives the entries it wrote (TTL), so a
  // burst whose requests predate it — a replay or retry keeps `requestedAt` — cannot take the lease, and
  // its waiter returns at once: every account is described (30 calls) instead of listed (3).
  it("lists again, rather than describing each account, a burst whose requests predate a listing whose entries expired", async () => {
    vi.useFakeTimers({ toFake: ["Date"], now: clock });
    const burst = accountIds(30, 100000000015);
    const requestedAt = clock - 60_000;
    await container({ now: Date.now }).lookup(burst, { since: requestedAt });
    vi.setSystemTime(clock + 2 * 3600 * 1000);

    const replayed = await container({ now: Date.now }).lookup(burst, { since: requestedAt });

    expect(emails(replayed)).toEqual(expected(burst));
    expect(describeCalls()).toBe(0);
    expect(listCalls()).toBe(6);
  });

  // Fails today (shared/directory.ts): `#list` catches the errors of its `onPage` (the store's put and
  // renew) as its own, so a DynamoDB failure is told as onError("listing") — logged as "the listing
  // failed" — and the organization is then listed a second time.
  it("tells a store that fails part-way through a listing as onError('store'), never as the listing's failure", async () => {
    const errors: [string, unknown][] = [];
    const admin = new DynamoDBClient({
      endpoint: dynamo.endpoint,
      region: "us-east-1",
      credentials: CREDENTIALS,
    });
    let firstPage = true;
    organizations.on(ListAccountsCommand).callsFake(async ({ NextToken }: { NextToken?: string }) => {
      if (firstPage) {
        firstPage = false;
        await admin.send(new DeleteTableCommand({ TableName: dynamo.tables.AccountDirectoryTable }));
      }
      const all = [...org.values()];
      const start = Number(NextToken ?? 0);
      const next = start + 20 < all.length ? String(start + 20) : undefined;
      return { Accounts: all.slice(start, start + 20), NextToken: next };
    });
    const burst = accountIds(30, 100000000015);

    const found = await container({ errors }).lookup(burst, { since: Date.now() - 60_000 });

    expect(emails(found)).toEqual(expected(burst));
    expect(errors.map(([path, error]) => [path, (error as Error).name])).not.toContainEqual([
      "listing",
      "ResourceNotFoundException",
    ]);
    expect(errors.map(([path]) => path)).toContain("store");
  });
});

describe("AccountDirectory without a store", () => {
  it("lists for itself when a burst costs fewer calls listed than described, and remembers the organization's size", async () => {
    const directory = new AccountDirectory(new OrganizationsClient({ region: "us-east-1" }));
    const burst = accountIds(30, 100000000015);
    const [newcomer, another] = ["300000000000", "300000000001"];

    const found = await directory.lookup(burst);
    org.set(newcomer, member(newcomer));
    org.set(another, member(another));
    await directory.lookup([newcomer, another]);

    expect(emails(found)).toEqual(expected(burst));
    expect(listCalls()).toBe(3);
    expect(describeCalls()).toBe(2); // 2 accounts: cheaper described than listed again (3 pages)
  });

  it("asks Organizations again for an account it was told to forget", async () => {
    const directory = new AccountDirectory(new OrganizationsClient({ region: "us-east-1" }));
    const [id] = accountIds(1) as [string];
    await directory.lookup([id]);

    directory.forget(id);
    await directory.lookup([id]);

    expect(describeCalls()).toBe(2);
  });
});
