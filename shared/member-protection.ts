import {
  GetMemberDetectorsCommand,
  type GuardDutyClient,
  StartMonitoringMembersCommand,
  type UnprocessedAccount,
  UpdateMemberDetectorsCommand,
} from "@aws-sdk/client-guardduty";
import { classifyError, classifyResult } from "./classify.ts";
import { chunk } from "./concurrency.ts";
import { describeOrganization, findDetector, getMembers, MAX_ACCOUNTS_PER_CALL } from "./guardduty.ts";
import type { CellOutcome } from "./outcomes.ts";
import { describeError, redact } from "./privacy.ts";
import {
  type ActualPlans,
  actualPlans,
  differences,
  memberFeatures,
  type Plans,
  type Profile,
  plansFor,
} from "./protection.ts";

/**
 * Protection, verified, in one region, from the administrator's side: an (account, region) is
 * `protected` only when GuardDuty lists it `Enabled` under this administrator (so its detector is on:
 * a suspended one shows `Disabled`) and GetMemberDetectors reads back exactly the profile's plans for
 * the region. Members whose plans differ are brought to the profile (UpdateMemberDetectors, ≤ 50 a
 * call) and read back once more; anything still short is retried, naming what differs.
 */

export interface ProtectionOptions {
  readonly protection: Profile;
  readonly mode: "invitation" | "organization";
}

/** Where the organization's own configuration contradicts the profile (organization mode). */
export interface OrganizationFinding {
  readonly region: string;
  readonly finding: string;
}

export class RegionProtection {
  readonly #client: GuardDutyClient;
  readonly #region: string;
  readonly #plans: Plans;
  readonly #options: ProtectionOptions;
  #detectorId: string | undefined;
  #organizationChecked = false;

  constructor(client: GuardDutyClient, region: string, options: ProtectionOptions) {
    this.#client = client;
    this.#region = region;
    this.#options = options;
    this.#plans = plansFor(options.protection, region);
  }

  /** Verifies (and where needed applies) the profile for each member; one outcome per account. */
  async verify(accountIds: readonly string[], signal?: AbortSignal): Promise<Map<string, CellOutcome>> {
    const outcomes = new Map<string, CellOutcome>();
    const settle = (ids: Iterable<string>, outcome: CellOutcome) => {
      for (const id of ids) outcomes.set(id, outcome);
    };
    let detectorId: string | undefined;
    try {
      detectorId = await this.#detector(signal);
    } catch (error) {
      settle(accountIds, failure(error));
      return outcomes;
    }
    if (!detectorId) {
      settle(accountIds, {
        outcome: "dead-letter",
        reason: "guardduty-not-enabled-in-region",
        detail: "The administrator account has no GuardDuty detector in this region",
        step: "verify",
      });
      return outcomes;
    }

    for (const part of chunk(accountIds, MAX_ACCOUNTS_PER_CALL)) {
      try {
        const associated = await this.#associated(detectorId, part, settle, signal);
        const read = await this.#read(detectorId, associated, settle, signal);
        const differing = [...read].filter(([, plans]) => differences(this.#plans, plans).length > 0);
        for (const [accountId] of read) {
          if (!differing.some(([id]) => id === accountId))
            settle([accountId], { outcome: "protected", memberStatus: "Enabled" });
        }
        if (differing.length === 0) continue;
        const updated = await this.#update(
          detectorId,
          differing.map(([id]) => id),
          settle,
          signal,
        );
        for (const [accountId, plans] of await this.#read(detectorId, updated, settle, signal)) {
          const found = differences(this.#plans, plans);
          settle(
            [accountId],
            found.length === 0
              ? { outcome: "protected", memberStatus: "Enabled", reason: "plans-applied" }
              : { outcome: "retry", reason: "plans-differ", detail: found.join("; "), step: "verify" },
          );
        }
      } catch (error) {
        settle(
          part.filter((id) => !outcomes.has(id)),
          failure(error),
        );
      }
    }
    return outcomes;
  }

  /**
   * Organization mode: where the organization's auto-enable contradicts the profile, or the
   * administrator's member quota is reached — from the answer the membership stage read
   * (`describeOrganization`, once per container and region), reported once. Members are still verified
   * one by one, whatever it says.
   */
  async organizationFindings(signal?: AbortSignal): Promise<OrganizationFinding[]> {
    if (this.#options.mode !== "organization" || this.#organizationChecked) return [];
    const detectorId = await this.#detector(signal);
    if (!detectorId) return [];
    const { memberAccountLimitReached, autoEnable } = await describeOrganization(
      this.#client,
      detectorId,
      signal,
    );
    this.#organizationChecked = true;
    const region = this.#region;
    const findings: OrganizationFinding[] = [];
    if (memberAccountLimitReached)
      findings.push({ region, finding: "MemberAccountLimitReached: no more members can be added" });
    for (const [name, { status }] of Object.entries(this.#plans)) {
      const auto = autoEnable.get(name) ?? "NONE";
      if (status === "ENABLED" && auto !== "ALL")
        findings.push({
          region,
          finding: `${name} auto-enable is ${auto}: the profile wants it on, so it is applied member by member`,
        });
      if (status === "DISABLED" && auto !== "NONE")
        findings.push({
          region,
          finding: `${name} auto-enable is ${auto}: the organization turns on a plan the profile turns off`,
        });
    }
    return findings;
  }

  /** The administrator's detector here; only a found id is cached (GuardDuty may be enabled later). */
  async #detector(signal?: AbortSignal): Promise<string | undefined> {
    this.#detectorId ??= await findDetector(this.#client, signal);
    return this.#detectorId;
  }

  /**
   * The accounts GuardDuty lists `Enabled` under this administrator; the others are settled. `Disabled`
   * ones are started again (StartMonitoringMembers) and asked once more: still `Disabled` means the
   * member suspended its own detector, which only the member account can undo.
   */
  async #associated(
    detectorId: string,
    accountIds: readonly string[],
    settle: (ids: Iterable<string>, outcome: CellOutcome) => void,
    signal?: AbortSignal,
  ): Promise<string[]> {
    const statuses = await this.#statuses(detectorId, accountIds, signal);
    const stopped = accountIds.filter((id) => statuses.get(id) === "Disabled");
    if (stopped.length > 0) {
      const answer = await this.#client.send(
        new StartMonitoringMembersCommand({ DetectorId: detectorId, AccountIds: stopped }),
        { abortSignal: signal },
      );
      settleUnprocessed(answer.UnprocessedAccounts, settle);
      const refused = new Set(answer.UnprocessedAccounts?.map((entry) => entry.AccountId));
      const started = stopped.filter((id) => !refused.has(id));
      if (started.length > 0)
        for (const [id, status] of await this.#statuses(detectorId, started, signal))
          statuses.set(id, status);
      for (const id of refused) if (id) statuses.delete(id);
    }
    const associated: string[] = [];
    for (const accountId of accountIds) {
      const status = statuses.get(accountId);
      if (status === "Enabled") associated.push(accountId);
      else if (status !== undefined || !stopped.includes(accountId))
        settle([accountId], {
          outcome: "retry",
          reason: "member-not-associated",
          detail:
            status === "Disabled"
              ? "the member's relationship is Disabled after StartMonitoringMembers: its own detector is suspended (the member account must enable it)"
              : `the member's relationship is ${status ?? "absent"}, not Enabled`,
          step: "verify",
          memberStatus: status,
        });
    }
    return associated;
  }

  async #statuses(
    detectorId: string,
    accountIds: readonly string[],
    signal?: AbortSignal,
  ): Promise<Map<string | undefined, string | undefined>> {
    return new Map(
      (await getMembers(this.#client, detectorId, accountIds, signal)).map((member) => [
        member.AccountId,
        member.RelationshipStatus,
      ]),
    );
  }

  /** GetMemberDetectors (≤ 50 ids a call): each readable member's plans; the unprocessed are settled. */
  async #read(
    detectorId: string,
    accountIds: readonly string[],
    settle: (ids: Iterable<string>, outcome: CellOutcome) => void,
    signal?: AbortSignal,
  ): Promise<Map<string, ActualPlans>> {
    const read = new Map<string, ActualPlans>();
    if (accountIds.length === 0) return read;
    const answer = await this.#client.send(
      new GetMemberDetectorsCommand({ DetectorId: detectorId, AccountIds: [...accountIds] }),
      { abortSignal: signal },
    );
    const asked = new Set(accountIds);
    for (const member of answer.MemberDataSourceConfigurations ?? []) {
      if (member.AccountId && asked.has(member.AccountId))
        read.set(member.AccountId, actualPlans(member.Features));
    }
    settleUnprocessed(answer.UnprocessedAccounts, settle);
    for (const accountId of accountIds) {
      if (!read.has(accountId) && !answer.UnprocessedAccounts?.some((entry) => entry.AccountId === accountId))
        settle([accountId], {
          outcome: "retry",
          reason: "member-not-associated",
          detail: "GetMemberDetectors did not answer for this member",
          step: "verify",
        });
    }
    return read;
  }

  /** UpdateMemberDetectors with the region's plans; answers the accounts GuardDuty took. */
  async #update(
    detectorId: string,
    accountIds: readonly string[],
    settle: (ids: Iterable<string>, outcome: CellOutcome) => void,
    signal?: AbortSignal,
  ): Promise<string[]> {
    const answer = await this.#client.send(
      new UpdateMemberDetectorsCommand({
        DetectorId: detectorId,
        AccountIds: [...accountIds],
        Features: memberFeatures(this.#plans),
      }),
      { abortSignal: signal },
    );
    settleUnprocessed(answer.UnprocessedAccounts, settle);
    const refused = new Set(answer.UnprocessedAccounts?.map((entry) => entry.AccountId));
    return accountIds.filter((id) => !refused.has(id));
  }
}

/**
 * A member GuardDuty would not read or update. "Not associated" right after the member was created or
 * accepted is GuardDuty catching up: retried as `member-not-associated`; other texts as the table says.
 */
function settleUnprocessed(
  unprocessed: readonly UnprocessedAccount[] | undefined,
  settle: (ids: Iterable<string>, outcome: CellOutcome) => void,
): void {
  for (const { AccountId, Result } of unprocessed ?? []) {
    if (!AccountId) continue;
    const { verdict, reason } = classifyResult(Result);
    const notAssociated = reason === "member-not-created" || /not (an )?associated/i.test(Result ?? "");
    settle([AccountId], {
      outcome: notAssociated ? "retry" : verdict,
      reason: notAssociated ? "member-not-associated" : reason,
      detail: redact(Result ?? "(no result text)"),
      step: "verify",
    });
  }
}

function failure(error: unknown): CellOutcome {
  const { verdict, reason } = classifyError(error);
  return { outcome: verdict, reason, detail: describeError(error), step: "verify" };
}
