import {
  type Account,
  AccountNotFoundException,
  DescribeAccountCommand,
  OrganizationsClient,
} from "@aws-sdk/client-organizations";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { AccountDirectory } from "#shared/directory";
import type { OnboardingRequest } from "#shared/message";
import type { Cell, Plan } from "#shared/plan";
import { resolveAccounts } from "#shared/stages/resolve-accounts";

const ACTIVE = "222222222222";
const SUSPENDED = "333333333333";
const NO_EMAIL = "444444444444";
const OUTSIDE = "999999999999";
const organizations = mockClient(OrganizationsClient);
/** The organization as Organizations describes it. */
const org = new Map<string, Account>([
  [ACTIVE, { Id: ACTIVE, Email: "owner@example.com", State: "ACTIVE" }],
  [SUSPENDED, { Id: SUSPENDED, Email: "gone@example.com", State: "SUSPENDED" }],
  [NO_EMAIL, { Id: NO_EMAIL, State: "ACTIVE" }],
]);

const request = (accountId: string, fields: Partial<OnboardingRequest> = {}): OnboardingRequest => ({
  version: 1,
  accountId,
  attempt: 0,
  origin: "event",
  requestedAt: "2026-11-26T05:00:00Z",
  ...fields,
});
const plan = (...requests: OnboardingRequest[]): Plan => ({
  cells: requests.map(
    (each, index): Cell => ({ messageId: `m${index}`, request: each, region: "us-east-1" }),
  ),
  notes: [],
});
const outcomeOf = (resolved: Plan, accountId: string) =>
  resolved.cells.find((cell) => cell.request.accountId === accountId)?.outcome;

let directory: AccountDirectory;

beforeEach(() => {
  organizations.reset();
  organizations.on(DescribeAccountCommand).callsFake(({ AccountId }: { AccountId: string }) => {
    const account = org.get(AccountId);
    if (!account) {
      return Promise.reject(
        new AccountNotFoundException({ message: "not found", $metadata: { httpStatusCode: 400 } }),
      );
    }
    return Promise.resolve({ Account: account });
  });
  directory = new AccountDirectory(new OrganizationsClient({ region: "us-east-1" }));
});

afterEach(() => {
  vi.useRealTimers();
});

describe("resolveAccounts", () => {
  it("carries the e-mail of an active account into its cells and leaves them pending", async () => {
    const resolved = await resolveAccounts(directory)({
      cells: [
        { messageId: "m1", request: request(ACTIVE), region: "us-east-1" },
        { messageId: "m1", request: request(ACTIVE), region: "eu-west-1" },
      ],
      notes: [],
    });

    expect(resolved.cells.map((cell) => [cell.region, cell.email, cell.outcome])).toEqual([
      ["us-east-1", "owner@example.com", undefined],
      ["eu-west-1", "owner@example.com", undefined],
    ]);
    expect(organizations.commandCalls(DescribeAccountCommand)).toHaveLength(1);
  });

  it("decides an account Organizations does not know with its classification: dead-letter not-in-organization", async () => {
    const resolved = await resolveAccounts(directory)(plan(request(OUTSIDE)));

    expect(outcomeOf(resolved, OUTSIDE)).toEqual({
      outcome: "dead-letter",
      reason: "not-in-organization",
      detail: "AccountNotFoundException: not found",
    });
    expect(resolved.cells[0]?.email).toBeUndefined();
  });

  it("skips a suspended account as account-not-active", async () => {
    const resolved = await resolveAccounts(directory)(plan(request(SUSPENDED)));

    expect(outcomeOf(resolved, SUSPENDED)).toEqual({
      outcome: "skipped",
      reason: "account-not-active",
      detail: "the account is suspended or closed",
    });
  });

  it("retries an account without an e-mail as email-missing and forgets it, so the retry asks Organizations again", async () => {
    const forget = vi.spyOn(directory, "forget");

    const resolved = await resolveAccounts(directory)(plan(request(NO_EMAIL)));
    await resolveAccounts(directory)(plan(request(NO_EMAIL)));

    expect(outcomeOf(resolved, NO_EMAIL)).toEqual({
      outcome: "retry",
      reason: "email-missing",
      detail: "Organizations returned no e-mail for the account",
    });
    expect(forget).toHaveBeenCalledWith(NO_EMAIL);
    expect(organizations.commandCalls(DescribeAccountCommand)).toHaveLength(2);
  });

  it("serves an account found before from the directory without asking Organizations again", async () => {
    await resolveAccounts(directory)(plan(request(ACTIVE)));

    const resolved = await resolveAccounts(directory)(plan(request(ACTIVE)));

    expect(resolved.cells[0]?.email).toBe("owner@example.com");
    expect(organizations.commandCalls(DescribeAccountCommand)).toHaveLength(1);
  });

  it("leaves cells resuming at acceptance untouched and asks Organizations nothing for them", async () => {
    const lookup = vi.spyOn(directory, "lookup");
    const before = plan(request(ACTIVE, { step: "accept" }), request(OUTSIDE, { step: "accept" }));

    const resolved = await resolveAccounts(directory)(before);

    expect(resolved).toEqual(before);
    expect(lookup).not.toHaveBeenCalled();
    expect(organizations.commandCalls(DescribeAccountCommand)).toHaveLength(0);
  });

  it("looks up only the accounts that need it when acceptance cells share the batch", async () => {
    const lookup = vi.spyOn(directory, "lookup");

    const resolved = await resolveAccounts(directory)(
      plan(request(OUTSIDE, { step: "accept" }), request(ACTIVE)),
    );

    expect(lookup.mock.calls[0]?.[0]).toEqual([ACTIVE]);
    expect(resolved.cells[0]?.outcome).toBeUndefined();
    expect(resolved.cells[1]?.email).toBe("owner@example.com");
  });

  it("leaves cells an earlier stage decided alone", async () => {
    const decided: Cell = {
      messageId: "m1",
      request: request(OUTSIDE),
      region: "us-east-1",
      outcome: { outcome: "skipped", reason: "region-not-configured" },
    };

    const resolved = await resolveAccounts(directory)({ cells: [decided], notes: [] });

    expect(resolved.cells).toEqual([decided]);
    expect(organizations.commandCalls(DescribeAccountCommand)).toHaveLength(0);
  });

  it("tells the directory the newest requestedAt of the batch as the time its accounts existed by", async () => {
    const lookup = vi.spyOn(directory, "lookup");

    await resolveAccounts(directory)(
      plan(
        request(ACTIVE, { requestedAt: "2026-11-26T05:00:00Z" }),
        request(SUSPENDED, { requestedAt: "2026-11-26T07:30:00Z" }),
        request(NO_EMAIL, { requestedAt: "2026-11-26T06:00:00Z" }),
      ),
    );

    expect(lookup).toHaveBeenCalledTimes(1);
    expect(lookup.mock.calls[0]?.[1]?.since).toBe(Date.parse("2026-11-26T07:30:00Z"));
  });

  it("tells the directory now when a request of the batch carries no requestedAt", async () => {
    vi.useFakeTimers({ toFake: ["Date"], now: Date.parse("2026-12-01T10:00:00Z") });
    const lookup = vi.spyOn(directory, "lookup");

    await resolveAccounts(directory)(plan(request(ACTIVE), request(SUSPENDED, { requestedAt: undefined })));

    expect(lookup.mock.calls[0]?.[1]?.since).toBe(Date.parse("2026-12-01T10:00:00Z"));
  });

  it("passes the batch's abort signal on to the directory", async () => {
    const lookup = vi.spyOn(directory, "lookup");
    const signal = new AbortController().signal;

    await resolveAccounts(directory)(plan(request(ACTIVE)), signal);

    expect(lookup.mock.calls[0]?.[1]?.signal).toBe(signal);
  });
});
