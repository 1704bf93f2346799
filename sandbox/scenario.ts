/**
 * The seeded world the sandbox simulates: an organization's accounts and the GuardDuty starting state.
 *
 * Everything here is derived from a seed so a run (and a failure) is reproducible: the same
 * `{ seed, accountCount }` always yields the same account ids, e-mails and organization id.
 */

import { OPT_IN_REGIONS } from "../shared/regions.ts";
import { deriveRandom, type Random, randomInt, randomString } from "./random.ts";

/** Organizations `AccountStatus` (deprecated by AWS in favour of `State`, still sent). */
export type AccountStatus = "ACTIVE" | "SUSPENDED" | "PENDING_CLOSURE";
/** Organizations `AccountState`. */
export type AccountState = "PENDING_ACTIVATION" | "ACTIVE" | "SUSPENDED" | "PENDING_CLOSURE" | "CLOSED";

/** An account of the organization, as Organizations describes it. */
export interface OrgAccount {
  readonly id: string;
  readonly email: string;
  readonly name: string;
  readonly status: AccountStatus;
  readonly state: AccountState;
  readonly joinedMethod: "INVITED" | "CREATED";
  /** Epoch milliseconds. */
  readonly joinedAt: number;
}

/** An account to add: only the id is required; the rest is derived from it. */
export interface AccountInput {
  readonly id: string;
  readonly email?: string;
  readonly name?: string;
  readonly status?: AccountStatus;
  /** Defaults to the state matching `status`. */
  readonly state?: AccountState;
  readonly joinedMethod?: "INVITED" | "CREATED";
  readonly joinedAt?: number;
}

/** An account that already is a GuardDuty member of another administrator. */
export interface ForeignMembership {
  readonly accountId: string;
  /** Defaults to `DEFAULT_OTHER_ADMINISTRATOR_ID`. */
  readonly administratorId?: string;
  /** Regions where the membership exists; every region when omitted. */
  readonly regions?: readonly string[];
}

/** How the administrator enrols members (README, parameter `membershipMode`: "organization" vs "invitation"). */
export type EnrolmentMode = "invitation" | "organization";

/** The scenario part of the sandbox options. */
export interface ScenarioOptions {
  /** Seed of every random choice; default 1. */
  readonly seed?: number;
  /** Workload accounts to generate with `seedOrganization`; default 25. */
  readonly accountCount?: number;
  /** Extra accounts, added after the generated ones. */
  readonly accounts?: readonly AccountInput[];
  /** Organization management account; default `111111111111`. */
  readonly managementAccountId?: string;
  /** GuardDuty administrator (security) account, the caller of unknown access keys; default `222222222222`. */
  readonly administratorAccountId?: string;
  /**
   * Default "invitation": CreateMembers → Created, InviteMembers → Invited, member accepts → Enabled.
   * "organization": the administrator account is the organization's GuardDuty delegated administrator
   * (in `delegatedAdministratorRegions`), so its CreateMembers enables an organization account at once.
   */
  readonly mode?: EnrolmentMode;
  /**
   * Regions where the administrator account is GuardDuty's delegated administrator (as the management
   * account's EnableOrganizationAdminAccount makes it), `"*"` for every region. Default: every region in
   * organization mode, none in invitation mode. Elsewhere its CreateMembers behaves as in invitation mode.
   */
  readonly delegatedAdministratorRegions?: readonly string[] | "*";
  /** The organization configuration's `AutoEnableOrganizationMembers` in every region; default "NEW". */
  readonly autoEnableOrganizationMembers?: "NEW" | "ALL" | "NONE";
  /** Regions where the administrator has no detector (GuardDuty not enabled there). */
  readonly regionsWithoutDetector?: readonly string[];
  /** Accounts that are members of another administrator. */
  readonly membersOfOtherAdministrator?: readonly ForeignMembership[];
  /**
   * What CreateMembers does with an account detail lacking `email` (required by the model):
   * "bad-request" (default) rejects the call with 400, "unprocessed" answers
   * "The member account's email address is missing" for that account.
   */
  readonly missingEmail?: "bad-request" | "unprocessed";
  /** Members per administrator and region before CreateMembers refuses more; default 5000 (GuardDuty quota). */
  readonly maxMembers?: number;
  /** Delay before a member sees a new invitation in ListInvitations; default 0. */
  readonly invitationDelayMs?: number;
  /** How long an invitation sent with e-mail notification stays EmailVerificationInProgress; default 0. */
  readonly emailVerificationMs?: number;
  /**
   * Accounts whose invitation e-mail fails verification (EmailVerificationFailed) whatever their address.
   * Any member created with an address no mail reaches (under the reserved domain `.invalid`) fails too.
   */
  readonly emailVerificationFailures?: readonly string[];
  /** Accounts that hold none of the member roles (AssumeRole is denied), e.g. the role was deleted. */
  readonly unassumableAccounts?: readonly string[];
  /**
   * Opt-in regions (`OPT_IN_REGIONS`) each account has enabled: account id → regions, `"*"` for every
   * account. Like AWS, an opt-in region is disabled unless enabled here; the others always are.
   */
  readonly enabledOptInRegions?: Readonly<Record<string, readonly string[]>>;
  /**
   * Delegated administrators of the organization (Organizations RegisterDelegatedAdministrator, or a
   * service's own designation such as GuardDuty's EnableOrganizationAdminAccount). Default: the
   * administrator account, for guardduty.amazonaws.com. Only they and the management account may read
   * the organization (ListAccounts, DescribeAccount).
   */
  readonly delegatedAdministrators?: readonly DelegatedAdministrator[];
}

export interface DelegatedAdministrator {
  readonly accountId: string;
  readonly servicePrincipal: string;
}

export const DEFAULT_MANAGEMENT_ACCOUNT_ID = "111111111111";
export const DEFAULT_ADMINISTRATOR_ACCOUNT_ID = "222222222222";
export const DEFAULT_OTHER_ADMINISTRATOR_ID = "999999999999";

/** 2024-01-01T00:00:00Z: generated accounts join one day apart from here. */
const JOINED_EPOCH = Date.UTC(2024, 0, 1);
const DAY = 86_400_000;

/** Completes an AccountInput with the derived defaults. */
export function toAccount(input: AccountInput, index = 0): OrgAccount {
  const status = input.status ?? "ACTIVE";
  return {
    id: input.id,
    email: input.email ?? `acct-${input.id}@example.com`,
    name: input.name ?? `account-${input.id}`,
    status,
    state: input.state ?? status,
    joinedMethod: input.joinedMethod ?? "CREATED",
    joinedAt: input.joinedAt ?? JOINED_EPOCH + index * DAY,
  };
}

/** Produces unique, deterministic 12-digit account ids from a seeded stream. */
export class AccountIdGenerator {
  private readonly random: Random;
  private readonly used: Set<string>;

  constructor(seed: number, reserved: Iterable<string> = []) {
    this.random = deriveRandom(seed, "account-ids");
    this.used = new Set(reserved);
  }

  /** Marks an id as taken (e.g. an explicitly configured account). */
  reserve(id: string): void {
    this.used.add(id);
  }

  next(): string {
    for (;;) {
      const id = String(randomInt(this.random, 100_000_000_000, 999_999_999_999));
      if (!this.used.has(id)) {
        this.used.add(id);
        return id;
      }
    }
  }
}

/**
 * Generates `count` ACTIVE workload accounts with deterministic 12-digit ids and e-mails
 * `acct-<id>@example.com`. The same `{ count, seed }` always gives the same accounts.
 */
export function seedOrganization(options: {
  readonly count: number;
  readonly seed?: number;
  /** Ids the generator must not produce (e.g. management and administrator accounts). */
  readonly reserved?: Iterable<string>;
}): OrgAccount[] {
  const generator = new AccountIdGenerator(options.seed ?? 1, options.reserved);
  return generateAccounts(generator, options.count, 0);
}

/** @internal Generates accounts from a generator, numbering names from `offset`. */
export function generateAccounts(generator: AccountIdGenerator, count: number, offset: number): OrgAccount[] {
  const accounts: OrgAccount[] = [];
  for (let i = 0; i < count; i++) {
    const index = offset + i;
    const id = generator.next();
    accounts.push(toAccount({ id, name: `workload-${String(index + 1).padStart(4, "0")}` }, index + 2));
  }
  return accounts;
}

/** The organization's account directory, in the order Organizations lists it. */
export class Organization {
  readonly id: string;
  readonly managementAccountId: string;
  readonly administratorAccountId: string;
  readonly delegatedAdministrators: readonly DelegatedAdministrator[];
  private readonly accounts = new Map<string, OrgAccount>();
  private readonly optIns = new Map<string, Set<string>>();
  private readonly generator: AccountIdGenerator;
  private generated = 0;

  constructor(options: ScenarioOptions) {
    const seed = options.seed ?? 1;
    this.id = `o-${randomString(deriveRandom(seed, "organization"), "abcdefghijklmnopqrstuvwxyz0123456789", 10)}`;
    this.managementAccountId = options.managementAccountId ?? DEFAULT_MANAGEMENT_ACCOUNT_ID;
    this.administratorAccountId = options.administratorAccountId ?? DEFAULT_ADMINISTRATOR_ACCOUNT_ID;
    this.delegatedAdministrators = options.delegatedAdministrators ?? [
      { accountId: this.administratorAccountId, servicePrincipal: "guardduty.amazonaws.com" },
    ];
    for (const [accountId, regions] of Object.entries(options.enabledOptInRegions ?? {}))
      this.optIns.set(accountId, new Set(regions));
    const explicit = options.accounts ?? [];
    this.generator = new AccountIdGenerator(seed, [
      this.managementAccountId,
      this.administratorAccountId,
      DEFAULT_OTHER_ADMINISTRATOR_ID,
      ...explicit.map((account) => account.id),
    ]);
    this.put(
      toAccount({
        id: this.managementAccountId,
        name: "management",
        joinedMethod: "INVITED",
        joinedAt: JOINED_EPOCH,
      }),
    );
    this.put(toAccount({ id: this.administratorAccountId, name: "security", joinedAt: JOINED_EPOCH + DAY }));
    this.addGenerated(options.accountCount ?? 25);
    this.add(explicit);
  }

  /** Adds explicit accounts (replacing same ids); returns them completed. */
  add(inputs: readonly AccountInput[]): OrgAccount[] {
    return inputs.map((input) => {
      this.generator.reserve(input.id);
      const account = toAccount(input, this.accounts.size);
      this.put(account);
      return account;
    });
  }

  /** Adds `count` generated accounts (continuing the seeded id stream); returns them. */
  addGenerated(count: number): OrgAccount[] {
    const accounts = generateAccounts(this.generator, count, this.generated);
    this.generated += count;
    for (const account of accounts) {
      this.put(account);
    }
    return accounts;
  }

  get(id: string): OrgAccount | undefined {
    return this.accounts.get(id);
  }

  list(): readonly OrgAccount[] {
    return [...this.accounts.values()];
  }

  /** Whether an account can use a region: every default region, and the opt-in regions it enabled. */
  regionEnabled(accountId: string, region: string): boolean {
    if (!OPT_IN_REGIONS.has(region)) return true;
    return (this.optIns.get(accountId)?.has(region) ?? false) || (this.optIns.get("*")?.has(region) ?? false);
  }

  /** The account opts in to a region (the console's or account:EnableRegion's doing), at once. */
  enableRegion(accountId: string, region: string): void {
    this.optIns.set(accountId, (this.optIns.get(accountId) ?? new Set()).add(region));
  }

  /** The management account and delegated administrators may read the organization (Organizations User Guide). */
  canRead(accountId: string): boolean {
    return (
      accountId === this.managementAccountId ||
      this.delegatedAdministrators.some((delegated) => delegated.accountId === accountId)
    );
  }

  /**
   * CloseAccount (botocore model): the account goes PENDING_CLOSURE at once and SUSPENDED once AWS has
   * closed it (`closureMs` later; SUSPENDED for up to 90 days, model `AccountState`). Answers the error code
   * the model lists when it cannot be closed, or undefined.
   */
  close(
    id: string,
    closureMs = 50,
  ): "AccountNotFoundException" | "AccountAlreadyClosedException" | undefined {
    const account = this.accounts.get(id);
    if (account === undefined) return "AccountNotFoundException";
    if (account.state !== "ACTIVE" && account.state !== "PENDING_ACTIVATION")
      return "AccountAlreadyClosedException";
    this.put({ ...account, state: "PENDING_CLOSURE", status: "PENDING_CLOSURE" });
    setTimeout(() => {
      const current = this.accounts.get(id);
      if (current?.state === "PENDING_CLOSURE")
        this.put({ ...current, state: "SUSPENDED", status: "SUSPENDED" });
    }, closureMs).unref();
    return undefined;
  }

  /** RemoveAccountFromOrganization (botocore model): the account is no longer listed or described. */
  remove(id: string): "AccountNotFoundException" | "MasterCannotLeaveOrganizationException" | undefined {
    if (id === this.managementAccountId) return "MasterCannotLeaveOrganizationException";
    return this.accounts.delete(id) ? undefined : "AccountNotFoundException";
  }

  private put(account: OrgAccount): void {
    this.accounts.set(account.id, account);
  }
}
