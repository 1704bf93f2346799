import {
  CreateMembersCommand,
  GetMembersCommand,
  type GuardDutyClient,
  InviteMembersCommand,
  ListDetectorsCommand,
  type UnprocessedAccount,
} from "@aws-sdk/client-guardduty";
import { classifyError, classifyResult, type Decision } from "./classify.ts";
import { chunk } from "./concurrency.ts";
import { describeError, redact } from "./privacy.ts";

/** The outcome of one (account, region): DESIGN.md, "Outcome of one (account, region)". */
export type Outcome = "invited" | "enabled" | "already" | "retry" | "dead-letter" | "skipped";

export interface RegionOutcome {
  readonly outcome: Outcome;
  readonly reason?: string;
  /** Why, in GuardDuty's words (redacted of e-mail addresses). */
  readonly detail?: string;
  /** The member's relationship status when the administrator side knows it (`Invited`, `Enabled`). */
  readonly memberStatus?: string;
  /** Set when the member-side step failed: its retry or replay resumes there. */
  readonly step?: "accept";
}

export interface MemberAccount {
  readonly accountId: string;
  readonly email: string;
}

export interface MembershipOptions {
  readonly mode: "invitation" | "organization";
  readonly invitationMessage?: string;
  readonly disableEmailNotification: boolean;
}

/** CreateMembers takes 1–50 AccountDetails; InviteMembers and GetMembers 1–50 AccountIds (API model). */
export const MAX_ACCOUNTS_PER_CALL = 50;

/** Relationship states in which a member needs no (new) invitation. */
const ALREADY_INVITED = new Set(["Invited", "Enabled", "EmailVerificationInProgress"]);

type Rejection = Decision & { readonly detail: string };

/**
 * GuardDuty membership in one region, for the administrator's detector there. One instance per
 * region lives for the life of the container, so the detector id is discovered once.
 */
export class RegionMembers {
  readonly #client: GuardDutyClient;
  readonly #options: MembershipOptions;
  #detectorId: string | undefined;

  constructor(client: GuardDutyClient, options: MembershipOptions) {
    this.#client = client;
    this.#options = options;
  }

  /**
   * Makes every account a member in this region: CreateMembers in chunks of ≤ 50, then (invitation
   * mode) InviteMembers in chunks of ≤ 50. Accounts already invited are not invited again, so a
   * duplicate delivery never sends a second invitation.
   */
  async onboard(
    accounts: readonly MemberAccount[],
    signal?: AbortSignal,
  ): Promise<Map<string, RegionOutcome>> {
    const outcomes = new Map<string, RegionOutcome>();
    const settle = (ids: Iterable<string>, outcome: RegionOutcome) => {
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

    const organizationMode = this.#options.mode === "organization";
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
        const { Members = [] } = await this.#client.send(
          new GetMembersCommand({ DetectorId: detectorId, AccountIds: part }),
          {
            abortSignal: signal,
          },
        );
        const statuses = new Map(
          Members.map((member) => [member.AccountId, member.RelationshipStatus ?? ""]),
        );
        for (const accountId of part) {
          const memberStatus = statuses.get(accountId) ?? "";
          if (ALREADY_INVITED.has(memberStatus))
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
    for (const [accountId, rejection] of invited) {
      settle(
        [accountId],
        rejection ? fromRejection(rejection) : { outcome: "invited", memberStatus: "Invited" },
      );
    }
    return outcomes;
  }

  /** The administrator's detector in this region. Only a found id is cached: GuardDuty may be enabled later. */
  async #detector(signal?: AbortSignal): Promise<string | undefined> {
    if (!this.#detectorId) {
      const { DetectorIds = [] } = await this.#client.send(new ListDetectorsCommand({}), {
        abortSignal: signal,
      });
      this.#detectorId = DetectorIds[0];
    }
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

function fromRejection({ verdict, reason, detail }: Rejection): RegionOutcome {
  return { outcome: verdict, reason, detail };
}
