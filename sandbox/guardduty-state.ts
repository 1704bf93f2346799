/**
 * GuardDuty's administrator/member model, without HTTP: detectors, member records and their relationship
 * states per (administrator, region, account), and the per-account results GuardDuty gives.
 *
 * GuardDuty is regional: a member exists per (account, region), a detector per (account, region). The
 * administrator has a detector everywhere except the scenario's `regionsWithoutDetector`, created lazily
 * because the sandbox serves any region a client names.
 */
import { createHash } from "node:crypto";
import type { Counters } from "./counters.ts";
import type { FaultInjector } from "./faults.ts";
import { SandboxError } from "./http.ts";
import { deriveRandom, type Random, randomString } from "./random.ts";
import {
  DEFAULT_OTHER_ADMINISTRATOR_ID,
  type EnrolmentMode,
  type ForeignMembership,
  type Organization,
} from "./scenario.ts";

/**
 * `relationshipStatus` values as GuardDuty reports them. The sandbox produces Created (CreateMembers),
 * Invited (InviteMembers), Enabled (accepted, or CreateMembers in organization mode) and Removed
 * (DisassociateMembers); Disassociated is accepted for completeness of the view.
 */
export type RelationshipStatus = "Created" | "Invited" | "Enabled" | "Removed" | "Disassociated";

/** GuardDuty's wording, kept in one place. Clients must match these by pattern, never exactly. */
export const GuardDutyText = {
  detectorNotOwned:
    "The request is rejected because the input detectorId is not owned by the current account.",
  detectorExists: "The request is rejected because a detector already exists for the current account.",
  invalidInput:
    "The request is rejected because an invalid or out-of-range value is specified as an input parameter.",
  alreadyMember:
    "The request is rejected because the given account ID is already a member of the current account.",
  memberOfAnotherAdministrator:
    "The request is rejected because the input account ID is already a member of another master account.",
  cannotInviteItself: "The request is rejected because the current account cannot invite itself.",
  notAssociated:
    "The request is rejected because the input account ID is not associated with the current account.",
  alreadyInvitedOrAdministrator:
    "The request is rejected because the current account has already invited or is already the GuardDuty master of the given member account ID.",
  emailMissing: "The member account's email address is missing",
  memberLimit:
    "The request is rejected because the current account cannot exceed the maximum number of allowed members.",
  internalError: "Internal error",
  invitationNotValid: "The request is rejected because the input invitationId is not valid.",
  alreadyAssociated:
    "The request is rejected because the current account is already associated with a master account.",
} as const;

export interface Detector {
  readonly id: string;
  readonly accountId: string;
  readonly region: string;
  readonly createdAt: string;
}

/** One member record, as the administrator sees it in ListMembers/GetMembers. */
export interface MemberRecord {
  readonly administratorId: string;
  readonly accountId: string;
  readonly region: string;
  email: string;
  status: RelationshipStatus;
  invitationId?: string;
  invitedAt?: string;
  updatedAt: string;
}

/** A per-account rejection, answered with HTTP 200 in `unprocessedAccounts`. */
export interface Unprocessed {
  readonly accountId: string;
  readonly result: string;
}

/** The GuardDuty part of the scenario. */
export interface GuardDutyScenario {
  readonly seed: number;
  readonly mode: EnrolmentMode;
  readonly regionsWithoutDetector: readonly string[];
  readonly membersOfOtherAdministrator: readonly ForeignMembership[];
  readonly maxMembers: number;
  /** An invitation reaches the member's ListInvitations only this long after it was sent (propagation). */
  readonly invitationDelayMs: number;
}

function badRequest(message: string): SandboxError {
  return new SandboxError("BadRequestException", 400, message);
}

export class GuardDutyState {
  private readonly detectors = new Map<string, Detector>();
  /** `${administratorId}/${region}` → member account id → record. */
  private readonly members = new Map<string, Map<string, MemberRecord>>();
  private readonly invitationIds: Random;

  constructor(
    private readonly organization: Organization,
    private readonly scenario: GuardDutyScenario,
    private readonly faults: FaultInjector,
    private readonly counters: Counters,
    private readonly now: () => number,
  ) {
    this.invitationIds = deriveRandom(scenario.seed, "invitation-ids");
  }

  /** The caller's detector in a region, if GuardDuty is enabled there. */
  detector(accountId: string, region: string): Detector | undefined {
    const existing = this.detectors.get(`${accountId}/${region}`);
    if (existing !== undefined) {
      return existing;
    }
    const administrators = [
      this.organization.administratorAccountId,
      ...this.scenario.membersOfOtherAdministrator.map(
        (m) => m.administratorId ?? DEFAULT_OTHER_ADMINISTRATOR_ID,
      ),
    ];
    const lazilyEnabled =
      accountId === this.organization.administratorAccountId
        ? !this.scenario.regionsWithoutDetector.includes(region)
        : administrators.includes(accountId);
    return lazilyEnabled ? this.putDetector(accountId, region) : undefined;
  }

  /** CreateDetector: one detector per account and region. */
  createDetector(accountId: string, region: string): Detector {
    if (this.detector(accountId, region) !== undefined) {
      throw badRequest(GuardDutyText.detectorExists);
    }
    return this.putDetector(accountId, region);
  }

  /** Every member API takes the caller's own detector id; anything else is rejected with 400. */
  requireDetector(accountId: string, region: string, detectorId: string): Detector {
    const detector = this.detector(accountId, region);
    if (detector === undefined || detector.id !== detectorId) {
      throw badRequest(GuardDutyText.detectorNotOwned);
    }
    return detector;
  }

  /** The record of `accountId` as a member of `administratorId` in `region`. */
  member(administratorId: string, region: string, accountId: string): MemberRecord | undefined {
    return this.members.get(`${administratorId}/${region}`)?.get(accountId);
  }

  /** The administrator's members in a region, by account id. */
  membersOf(administratorId: string, region: string): MemberRecord[] {
    const records = [...(this.members.get(`${administratorId}/${region}`)?.values() ?? [])];
    return records.sort((a, b) => a.accountId.localeCompare(b.accountId));
  }

  /** Every member record of every administrator. */
  allMembers(): MemberRecord[] {
    return [...this.members.values()].flatMap((byAccount) => [...byAccount.values()]);
  }

  /** CreateMembers for one account; `email` was validated by the caller unless the scenario allows it missing. */
  createMember(
    administratorId: string,
    region: string,
    accountId: string,
    email: string | undefined,
  ): Unprocessed[] {
    const reject = (result: string): Unprocessed[] => [{ accountId, result }];
    if (accountId === administratorId) {
      return reject(GuardDutyText.cannotInviteItself);
    }
    if (this.member(administratorId, region, accountId) !== undefined) {
      return reject(GuardDutyText.alreadyMember);
    }
    if (this.otherAdministrator(accountId, region, administratorId) !== undefined) {
      return reject(GuardDutyText.memberOfAnotherAdministrator);
    }
    if (email === undefined || email === "") {
      return reject(GuardDutyText.emailMissing);
    }
    if (this.recordsOf(administratorId, region).size >= this.scenario.maxMembers) {
      return reject(GuardDutyText.memberLimit);
    }
    if (this.injectInternalError("CreateMembers", region)) {
      return reject(GuardDutyText.internalError);
    }
    const enableDirectly =
      this.scenario.mode === "organization" && this.organization.get(accountId) !== undefined;
    const record: MemberRecord = {
      administratorId,
      accountId,
      region,
      email,
      status: enableDirectly ? "Enabled" : "Created",
      updatedAt: this.timestamp(),
    };
    if (enableDirectly && this.detector(accountId, region) === undefined) {
      // The delegated administrator enables GuardDuty in organization accounts it adds.
      this.putDetector(accountId, region);
    }
    this.recordsOf(administratorId, region).set(accountId, record);
    return [];
  }

  /** InviteMembers for one account: Created/Removed/Disassociated → Invited, counting each invitation sent. */
  inviteMember(administratorId: string, region: string, accountId: string): Unprocessed[] {
    const reject = (result: string): Unprocessed[] => [{ accountId, result }];
    if (accountId === administratorId) {
      return reject(GuardDutyText.cannotInviteItself);
    }
    const record = this.member(administratorId, region, accountId);
    if (record === undefined) {
      return reject(GuardDutyText.notAssociated);
    }
    if (this.otherAdministrator(accountId, region, administratorId) !== undefined) {
      return reject(GuardDutyText.memberOfAnotherAdministrator);
    }
    // "…has already invited or is already the GuardDuty master…" (DESIGN.md): an Invited or Enabled
    // member is not invited again, so a retried call whose first answer was lost sends nothing twice.
    if (record.status === "Enabled" || record.status === "Invited") {
      return reject(GuardDutyText.alreadyInvitedOrAdministrator);
    }
    if (this.injectInternalError("InviteMembers", region)) {
      return reject(GuardDutyText.internalError);
    }
    const at = this.timestamp();
    record.status = "Invited";
    record.invitationId = randomString(this.invitationIds, "0123456789abcdef", 32);
    record.invitedAt = at;
    record.updatedAt = at;
    this.counters.recordInvitation(accountId, region);
    return [];
  }

  /** DeleteMembers for one account. */
  deleteMember(administratorId: string, region: string, accountId: string): Unprocessed[] {
    const deleted = this.members.get(`${administratorId}/${region}`)?.delete(accountId) ?? false;
    return deleted ? [] : [{ accountId, result: GuardDutyText.notAssociated }];
  }

  /** DisassociateMembers for one account: the record stays, as Removed. */
  disassociateMember(administratorId: string, region: string, accountId: string): Unprocessed[] {
    const record = this.member(administratorId, region, accountId);
    if (record === undefined) {
      return [{ accountId, result: GuardDutyText.notAssociated }];
    }
    record.status = "Removed";
    record.updatedAt = this.timestamp();
    return [];
  }

  /** The pending invitations a member account has received in a region (once they have propagated). */
  invitationsFor(accountId: string, region: string): MemberRecord[] {
    const visibleBefore = this.now() - this.scenario.invitationDelayMs;
    return this.recordsOfAccount(accountId, region).filter(
      (record) => record.status === "Invited" && Date.parse(record.invitedAt ?? "") <= visibleBefore,
    );
  }

  /** AcceptAdministratorInvitation: the member (caller) accepts; the administrator's record becomes Enabled. */
  acceptInvitation(
    accountId: string,
    region: string,
    detectorId: string,
    administratorId: string,
    invitationId: string,
  ): void {
    this.requireDetector(accountId, region, detectorId);
    const current = this.otherAdministrator(accountId, region, administratorId);
    if (current !== undefined) {
      throw badRequest(GuardDutyText.alreadyAssociated);
    }
    const record = this.member(administratorId, region, accountId);
    if (record === undefined || record.status !== "Invited" || record.invitationId !== invitationId) {
      throw badRequest(GuardDutyText.invitationNotValid);
    }
    record.status = "Enabled";
    record.updatedAt = this.timestamp();
  }

  /** The member's relationship with its administrator (Enabled first, else a pending invitation). */
  administratorRecordOf(accountId: string, region: string): MemberRecord | undefined {
    const records = this.recordsOfAccount(accountId, region);
    return records.find((r) => r.status === "Enabled") ?? records.find((r) => r.status === "Invited");
  }

  /** Another administrator the account is an Enabled member of in that region (seeded or real). */
  otherAdministrator(accountId: string, region: string, administratorId: string): string | undefined {
    for (const foreign of this.scenario.membersOfOtherAdministrator) {
      const other = foreign.administratorId ?? DEFAULT_OTHER_ADMINISTRATOR_ID;
      if (
        foreign.accountId === accountId &&
        other !== administratorId &&
        (foreign.regions === undefined || foreign.regions.includes(region))
      ) {
        return other;
      }
    }
    return this.recordsOfAccount(accountId, region).find(
      (record) => record.administratorId !== administratorId && record.status === "Enabled",
    )?.administratorId;
  }

  /** The account's member records under every administrator in a region. */
  private recordsOfAccount(accountId: string, region: string): MemberRecord[] {
    const records: MemberRecord[] = [];
    for (const byAccount of this.members.values()) {
      const record = byAccount.get(accountId);
      if (record !== undefined && record.region === region) {
        records.push(record);
      }
    }
    return records;
  }

  private recordsOf(administratorId: string, region: string): Map<string, MemberRecord> {
    const key = `${administratorId}/${region}`;
    let records = this.members.get(key);
    if (records === undefined) {
      records = new Map();
      this.members.set(key, records);
    }
    return records;
  }

  private putDetector(accountId: string, region: string): Detector {
    // Real detector ids are 32 hex characters; derive them so they are stable across runs.
    const id = createHash("md5").update(`${this.scenario.seed}/${accountId}/${region}`).digest("hex");
    const detector: Detector = { id, accountId, region, createdAt: this.timestamp() };
    this.detectors.set(`${accountId}/${region}`, detector);
    return detector;
  }

  private injectInternalError(operation: string, region: string): boolean {
    if (!this.faults.internalError()) {
      return false;
    }
    this.counters.recordInternalError(operation, region);
    return true;
  }

  private timestamp(): string {
    return new Date(this.now()).toISOString();
  }
}
