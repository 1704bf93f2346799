import {
  CreateMembersCommand,
  type GuardDutyClient,
  InviteMembersCommand,
  type UnprocessedAccount,
} from "@aws-sdk/client-guardduty";
import { classifyDelegationError, classifyError, classifyResult, type Decision } from "./classify.ts";
import { chunk } from "./concurrency.ts";
import {
  describeOrganization,
  findDetector,
  getMembers,
  MAX_ACCOUNTS_PER_CALL,
  NEEDS_NO_INVITATION,
} from "./guardduty.ts";
import { deleteUnverifiedMembers, removeMembers } from "./member-removal.ts";
import type { CellOutcome } from "./outcomes.ts";
import { describeError, redact } from "./privacy.ts";

export interface MemberAccount {
  readonly accountId: string;
  readonly email: string;
}

export interface MembershipOptions {
  readonly mode: "invitation" | "organization";
  readonly invitationMessage?: string;
  readonly disableEmailNotification: boolean;
}

type Rejection = Decision & { readonly detail: string };

/**
 * How long a passed delegation check holds in a container (organization mode): a designation withdrawn
 * meanwhile would make CreateMembers create invitation-mode members that stay `Created`, so it is asked
 * again after this long — one call a region every 15 minutes at most, against ⌈N/50⌉ CreateMembers.
 */
export const DELEGATION_CHECK_TTL_MS = 15 * 60_000;

/**
 * GuardDuty membership in one region, for the administrator's detector there. One instance per
 * region lives for the life of the container, so the detector id is discovered once.
 */
export class RegionMembers {
  readonly #client: GuardDutyClient;
  readonly #options: MembershipOptions;
  #detectorId: string | undefined;
  /** Organization mode: until when (epoch ms) the last passed delegation check holds. */
  #delegatedUntil = 0;

  constructor(client: GuardDutyClient, options: MembershipOptions) {
    this.#client = client;
    this.#options = options;
  }

  /**
   * Makes every account a member in this region: CreateMembers in chunks of ≤ 50, then (invitation
   * mode) InviteMembers in chunks of ≤ 50. Accounts already invited are not invited again, so a
   * duplicate delivery never sends a second invitation.
   */
  async onboard(accounts: readonly MemberAccount[], signal?: AbortSignal): Promise<Map<string, CellOutcome>> {
    const outcomes = new Map<string, CellOutcome>();
    const settle = (ids: Iterable<string>, outcome: CellOutcome) => {
      for (const id of ids) outcomes.set(id, outcome);
    };
    const ids = accounts.map(({ accountId }) => accountId);

    let detectorId: string | undefined;
    try {
      detectorId = await this.#detector(signal);
    } catch (error) {
      settle(ids, fromRejection({ ...classifyError(error), detail: describeError(error) }));
      return outcomes;
    }
    if (!detectorId) {
      settle(ids, {
        outcome: "dead-letter",
        reason: "guardduty-not-enabled-in-region",
        detail: "The administrator account has no GuardDuty detector in this region",
      });
      return outcomes;
    }

    const organizationMode = this.#options.mode === "organization";
    if (organizationMode) {
      const refusal = await this.#checkDelegation(detectorId, signal);
      if (refusal) {
        settle(ids, refusal);
        return outcomes;
      }
    }

    const created = await this.#isolating(accounts, async (part) => {
      const answer = await this.#client.send(
        new CreateMembersCommand({
          DetectorId: detectorId,
          AccountDetails: part.map(({ accountId, email }) => ({ AccountId: accountId, Email: email })),
        }),
        { abortSignal: signal },
      );
      return answer.UnprocessedAccounts;
    });

    const toInvite: string[] = [];
    const toCheck: string[] = [];
    for (const [accountId, rejection] of created) {
      if (!rejection) {
        if (organizationMode) settle([accountId], { outcome: "enabled", memberStatus: "Enabled" });
        else toInvite.push(accountId);
      } else if (rejection.verdict === "already" && !organizationMode) toCheck.push(accountId);
      else settle([accountId], fromRejection(rejection));
    }

    // "Already a member" from CreateMembers says nothing about the invitation: ask, rather than re-invite.
    for (const part of chunk(toCheck, MAX_ACCOUNTS_PER_CALL)) {
      try {
        const members = await getMembers(this.#client, detectorId, part, signal);
        const statuses = new Map(
          members.map((member) => [member.AccountId, member.RelationshipStatus ?? ""]),
        );
        for (const accountId of part) {
          const memberStatus = statuses.get(accountId) ?? "";
          if (NEEDS_NO_INVITATION.has(memberStatus))
            settle([accountId], { outcome: "already", reason: "already-member", memberStatus });
          else toInvite.push(accountId);
        }
      } catch (error) {
        settle(part, fromRejection({ ...classifyError(error), detail: describeError(error) }));
      }
    }

    const invited = await this.#isolating(toInvite, async (part) => {
      const answer = await this.#client.send(
        new InviteMembersCommand({
          DetectorId: detectorId,
          AccountIds: part,
          DisableEmailNotification: this.#options.disableEmailNotification,
          Message: this.#options.invitationMessage,
        }),
        { abortSignal: signal },
      );
      return answer.UnprocessedAccounts;
    });
    // "Already invited" is what a retried InviteMembers whose first answer was lost meets: the status
    // decides whether the member side still has to accept (Invited) or verification follows (Enabled).
    const alreadyInvited: string[] = [];
    for (const [accountId, rejection] of invited) {
      if (rejection?.verdict === "already") alreadyInvited.push(accountId);
      else
        settle(
          [accountId],
          rejection ? fromRejection(rejection) : { outcome: "invited", memberStatus: "Invited" },
        );
    }
    for (const part of chunk(alreadyInvited, MAX_ACCOUNTS_PER_CALL)) {
      try {
        const statuses = new Map(
          (await getMembers(this.#client, detectorId, part, signal)).map((member) => [
            member.AccountId,
            member.RelationshipStatus,
          ]),
        );
        for (const accountId of part)
          settle([accountId], {
            outcome: "already",
            reason: "already-member",
            memberStatus: statuses.get(accountId),
          });
      } catch (error) {
        settle(part, fromRejection({ ...classifyError(error), detail: describeError(error) }));
      }
    }
    return outcomes;
  }

  /**
   * Removes departed accounts' members in this region (`member-removal.ts`). Without a detector there is
   * no member to remove.
   */
  async offboard(accountIds: readonly string[], signal?: AbortSignal): Promise<Map<string, CellOutcome>> {
    let detectorId: string | undefined;
    try {
      detectorId = await this.#detector(signal);
    } catch (error) {
      const rejection = fromRejection({ ...classifyError(error), detail: describeError(error) });
      return new Map(accountIds.map((id) => [id, rejection]));
    }
    if (!detectorId) {
      const none: CellOutcome = { outcome: "offboarded", detail: "the administrator has no detector here" };
      return new Map(accountIds.map((id) => [id, none]));
    }
    return removeMembers(this.#client, detectorId, accountIds, signal);
  }

  /**
   * The repair of `EmailVerificationFailed`, before onboarding: deletes the members of `accountIds` that
   * still are `EmailVerificationFailed` (`member-removal.ts`). Answers an outcome only for the accounts
   * that cannot go on to `onboard`; a failure to find the detector is left to `onboard` to report.
   */
  async deleteUnverified(
    accountIds: readonly string[],
    signal?: AbortSignal,
  ): Promise<Map<string, CellOutcome>> {
    let detectorId: string | undefined;
    try {
      detectorId = await this.#detector(signal);
    } catch {
      return new Map();
    }
    if (!detectorId) return new Map();
    return deleteUnverifiedMembers(this.#client, detectorId, accountIds, signal);
  }

  /**
   * Organization mode: only the region's delegated administrator enables accounts with CreateMembers
   * alone; anyone else would create invitation-mode members that stay `Created`. So the first batch asks
   * DescribeOrganizationConfiguration (one call per region per container and `DELEGATION_CHECK_TTL_MS`;
   * only a pass is cached, so a designation made later is seen on the next batch, and a designation
   * withdrawn is seen within the TTL) and a refusal dead-letters the region's accounts as
   * `not-delegated-administrator` before any CreateMembers.
   */
  async #checkDelegation(detectorId: string, signal?: AbortSignal): Promise<CellOutcome | undefined> {
    if (Date.now() < this.#delegatedUntil) return undefined;
    try {
      const { memberAccountLimitReached } = await describeOrganization(this.#client, detectorId, signal);
      if (memberAccountLimitReached) {
        return {
          outcome: "dead-letter",
          reason: "member-limit-reached",
          detail: "DescribeOrganizationConfiguration: MemberAccountLimitReached",
        };
      }
      this.#delegatedUntil = Date.now() + DELEGATION_CHECK_TTL_MS;
      return undefined;
    } catch (error) {
      return fromRejection({ ...classifyDelegationError(error), detail: describeError(error) });
    }
  }

  /** The administrator's detector in this region. Only a found id is cached: GuardDuty may be enabled later. */
  async #detector(signal?: AbortSignal): Promise<string | undefined> {
    this.#detectorId ??= await findDetector(this.#client, signal);
    return this.#detectorId;
  }

  /**
   * Calls `call` for chunks of ≤ 50 accounts and returns, per account, `undefined` when accepted or the
   * rejection. A 400 on a multi-account call must not sink its neighbours: the chunk is split in halves
   * until the offending account stands alone, so one bad account costs about 2·log2(50) extra calls.
   */
  async #isolating<T extends string | MemberAccount>(
    items: readonly T[],
    call: (part: T[]) => Promise<UnprocessedAccount[] | undefined>,
  ): Promise<Map<string, Rejection | undefined>> {
    const results = new Map<string, Rejection | undefined>();
    const idOf = (item: T) => (typeof item === "string" ? item : item.accountId);
    const attempt = async (part: T[]): Promise<void> => {
      try {
        const unprocessed = new Map((await call(part))?.map((entry) => [entry.AccountId, entry.Result]));
        for (const item of part) {
          const id = idOf(item);
          results.set(id, unprocessed.has(id) ? rejectionFor(unprocessed.get(id)) : undefined);
        }
      } catch (error) {
        const decision = classifyError(error);
        if (decision.reason === "rejected-by-guardduty" && part.length > 1) {
          const middle = Math.ceil(part.length / 2);
          await attempt(part.slice(0, middle));
          await attempt(part.slice(middle));
          return;
        }
        for (const item of part) results.set(idOf(item), { ...decision, detail: describeError(error) });
      }
    };
    for (const part of chunk(items, MAX_ACCOUNTS_PER_CALL)) await attempt(part);
    return results;
  }
}

function rejectionFor(result: string | undefined): Rejection {
  return { ...classifyResult(result), detail: redact(result ?? "(no result text)") };
}

function fromRejection({ verdict, reason, detail }: Rejection): CellOutcome {
  return { outcome: verdict, reason, detail };
}
