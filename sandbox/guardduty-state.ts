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
import {
  ADDITIONAL_CONFIGURATION,
  applyFeatures,
  type DetectorFeatures,
  FEATURE_NAMES,
  type FeatureName,
  type FeatureRequest,
  type FeatureSummary,
  initialFeatures,
  summarize,
} from "./guardduty-features.ts";
import { SandboxError } from "./http.ts";
import { deriveRandom, type Random, randomString } from "./random.ts";
import {
  DEFAULT_OTHER_ADMINISTRATOR_ID,
  type EnrolmentMode,
  type ForeignMembership,
  type Organization,
} from "./scenario.ts";

/**
 * `relationshipStatus` values as GuardDuty reports them to the administrator (GuardDuty User Guide,
 * "Managing accounts by invitation"): Created (CreateMembers), EmailVerificationInProgress then Invited
 * or EmailVerificationFailed (InviteMembers with e-mail notification), Invited, Enabled (accepted, or
 * CreateMembers in organization mode), Disabled (StopMonitoringMembers, or the member suspended its
 * detector), Resigned (the member disassociated itself), Removed (DisassociateMembers, or the member
 * deleted its detector).
 */
export type RelationshipStatus =
  | "Created"
  | "EmailVerificationInProgress"
  | "EmailVerificationFailed"
  | "Invited"
  | "Enabled"
  | "Disabled"
  | "Resigned"
  | "Removed";

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
  notAssociatedWithAdministrator:
    "The request is rejected because the current account is not associated with a master account.",
  invitationNotFound: "The request is rejected because no invitation from the input account ID exists.",
  detectorHasMembers:
    "The request is rejected because the current account cannot delete detector while it has invited or associated members.",
  stillAssociated:
    "The request is rejected because the current account cannot delete the given member account ID since it is still associated to it.",
  emailVerificationFailed:
    "The request is rejected because the email verification of the given member account ID failed.",
  /** UpdateMemberDetectors for an account that is not associated, verbatim (aws-samples/aws-security-reference-architecture-examples#151). */
  notAssociatedMember:
    "The request is rejected because the given account ID is not an associated member of account the current account.",
  /** GetMemberDetectors / UpdateMemberDetectors for a member without a detector in the region (unsourced). */
  memberHasNoDetector:
    "The request is rejected because the given member account ID does not have a detector in the current Region.",
  /** A non-delegated account's organization configuration calls (aws-security-reference-architecture-examples issue 141). */
  notOrganizationAdministrator:
    "The request failed because you do not have required AWS Organization master permission.",
  /** As the management account's CreateMembers result words it ("…organization master must first enable GuardDuty…"). */
  managementMustEnableGuardDuty:
    "The request is rejected because the organization's management account must first enable GuardDuty in this Region.",
  // The texts below have no public source we could find: plausible wording, in GuardDuty's style.
  anotherDelegatedAdministrator:
    "The request is rejected because the organization already has a GuardDuty delegated administrator account in this Region.",
  notDelegatedAdministrator:
    "The request is rejected because the given account ID is not the GuardDuty delegated administrator of the organization.",
  notOrganizationAccount:
    "The request is rejected because the given account ID is not a member of the organization.",
  organizationMemberNotInvited:
    "The request is rejected because the given account ID is a member of the organization: its delegated administrator enables it with CreateMembers, without an invitation.",
  autoEnableAll:
    "The request is rejected because the organization's auto-enable configuration is ALL: an organization member cannot be deleted or disassociated while it applies.",
} as const;

/** Model `AutoEnableMembers` (organization) and `OrgFeatureStatus` (each feature). */
export type AutoEnable = "NEW" | "ALL" | "NONE";

/** Model `OrgFeature`: the same names as `DetectorFeature`, with the same additional configuration. */
export const ORGANIZATION_FEATURES = FEATURE_NAMES;
export type OrganizationFeatureName = FeatureName;
export const ADDITIONAL_CONFIGURATIONS: Readonly<
  Partial<Record<OrganizationFeatureName, readonly string[]>>
> = ADDITIONAL_CONFIGURATION;

/** Model `OrganizationFeatureConfigurationResult`. */
export interface OrganizationFeature {
  readonly name: OrganizationFeatureName;
  autoEnable: AutoEnable;
  readonly additionalConfiguration: { readonly name: string; autoEnable: AutoEnable }[];
}

/** A region's organization configuration, kept by the delegated administrator of that region. */
export interface OrganizationConfiguration {
  autoEnableOrganizationMembers: AutoEnable;
  readonly features: OrganizationFeature[];
}

/** The change UpdateOrganizationConfiguration asks for (features merged by name). */
export interface OrganizationConfigurationUpdate {
  readonly autoEnableOrganizationMembers: AutoEnable;
  readonly features?: readonly {
    readonly name: OrganizationFeatureName;
    readonly autoEnable?: AutoEnable;
    readonly additionalConfiguration?: readonly { readonly name: string; readonly autoEnable?: AutoEnable }[];
  }[];
}

/** A GuardDuty delegated administrator of a region (ListOrganizationAdminAccounts). */
export interface Delegation {
  readonly accountId: string;
  readonly region: string;
  /** Epoch ms. */
  readonly since: number;
}

/** Statuses in which a member needs no invitation: it is associated, invited, or its e-mail is being verified. */
const ASSOCIATED_OR_PENDING: ReadonlySet<RelationshipStatus> = new Set([
  "Invited",
  "EmailVerificationInProgress",
  "Enabled",
  "Disabled",
]);

export interface Detector {
  readonly id: string;
  readonly accountId: string;
  readonly region: string;
  readonly createdAt: string;
  /** `ENABLED` / `DISABLED` (UpdateDetector `enable`): a suspended detector watches nothing. */
  enabled: boolean;
  findingPublishingFrequency: "FIFTEEN_MINUTES" | "ONE_HOUR" | "SIX_HOURS";
  updatedAt: string;
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
  /** EmailVerificationInProgress ends at this epoch ms (Invited, or EmailVerificationFailed). */
  verifiedAt?: number;
  /** StopMonitoringMembers: the administrator stopped monitoring this member. */
  monitoringStopped?: boolean;
  /** Enabled by the region's delegated administrator (CreateMembers alone): an organization member. */
  viaOrganization?: boolean;
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
  /** Regions where the administrator account is the organization's GuardDuty delegated administrator. */
  readonly delegatedAdministratorRegions: readonly string[] | "*";
  /** The organization configuration's `AutoEnableOrganizationMembers` where it is first read. */
  readonly autoEnableOrganizationMembers: AutoEnable;
  readonly regionsWithoutDetector: readonly string[];
  readonly membersOfOtherAdministrator: readonly ForeignMembership[];
  readonly maxMembers: number;
  /** An invitation reaches the member's ListInvitations only this long after it was sent (propagation). */
  readonly invitationDelayMs: number;
  /** How long an invitation sent with e-mail notification shows EmailVerificationInProgress. */
  readonly emailVerificationMs: number;
  /**
   * Accounts whose e-mail verification fails whatever their address (their invitation ends
   * EmailVerificationFailed); an undeliverable address fails too (`undeliverable`).
   */
  readonly emailVerificationFailures: readonly string[];
}

/**
 * A region's organization configuration before anyone updated it: the optional protection plans follow
 * the organization's setting, Runtime Monitoring (and its deprecated EKS predecessor) stays off, as
 * CreateDetector leaves them.
 */
function defaultOrganizationConfiguration(autoEnable: AutoEnable): OrganizationConfiguration {
  return {
    autoEnableOrganizationMembers: autoEnable,
    features: ORGANIZATION_FEATURES.map((name) => ({
      name,
      autoEnable: name.endsWith("RUNTIME_MONITORING") ? "NONE" : autoEnable,
      additionalConfiguration: (ADDITIONAL_CONFIGURATIONS[name] ?? []).map((extra) => ({
        name: extra,
        autoEnable: "NONE",
      })),
    })),
  };
}

/**
 * An address no mail reaches, so GuardDuty's invitation e-mail cannot be verified: one under the reserved
 * top-level domain `invalid`, which never resolves (RFC 6761, section 6.4).
 */
export function undeliverable(email: string): boolean {
  return /\.invalid$/i.test(email.trim());
}

function badRequest(message: string): SandboxError {
  return new SandboxError("BadRequestException", 400, message);
}

export class GuardDutyState {
  private readonly detectors = new Map<string, Detector>();
  /** Detectors the scenario created lazily already: one deleted later stays deleted. */
  private readonly seeded = new Set<string>();
  /** Accounts whose GuardDuty service-linked role exists (CreateDetector creates it on first use). */
  private readonly serviceLinkedRoles = new Set<string>();
  private detectorGeneration = 0;
  /** `membersOf`'s order, per `${administratorId}/${region}`; dropped whenever a member is added or deleted. */
  private readonly sortedMembers = new Map<string, MemberRecord[]>();
  /** `${administratorId}/${region}` → member account id → record. */
  private readonly members = new Map<string, Map<string, MemberRecord>>();
  private readonly invitationIds: Random;
  /** Detector id → its protection plans; a detector without an entry has the defaults of a CreateDetector without `features`. */
  private readonly featuresByDetector = new Map<string, DetectorFeatures>();
  /** Region → its delegated administrator; `null` once the management account removed it. */
  private readonly delegations = new Map<string, Delegation | null>();
  /** Region → the organization configuration of its delegated administrator. */
  private readonly organizationConfigurations = new Map<string, OrganizationConfiguration>();

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
    const key = `${accountId}/${region}`;
    const existing = this.detectors.get(key);
    if (existing !== undefined || this.seeded.has(key)) {
      return existing;
    }
    this.seeded.add(key);
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

  /** Whether the account's GuardDuty service-linked role exists (administrators' always does). */
  hasServiceLinkedRole(accountId: string): boolean {
    return this.serviceLinkedRoles.has(accountId) || accountId === this.organization.administratorAccountId;
  }

  /** UpdateDetector `enable`: a member that suspends its detector shows Disabled to its administrator. */
  updateDetector(
    accountId: string,
    region: string,
    detectorId: string,
    update: {
      readonly enable?: boolean;
      readonly findingPublishingFrequency?: Detector["findingPublishingFrequency"];
    },
  ): void {
    const detector = this.requireDetector(accountId, region, detectorId);
    if (update.enable !== undefined) detector.enabled = update.enable;
    if (update.findingPublishingFrequency)
      detector.findingPublishingFrequency = update.findingPublishingFrequency;
    detector.updatedAt = this.timestamp();
    for (const record of this.recordsOfAccount(accountId, region)) this.settle(record);
  }

  /** DeleteDetector: GuardDuty off in that region; an administrator sees its member as Removed. */
  deleteDetector(accountId: string, region: string, detectorId: string): void {
    this.requireDetector(accountId, region, detectorId);
    if (this.membersOf(accountId, region).some((record) => record.status !== "Created")) {
      throw badRequest(GuardDutyText.detectorHasMembers);
    }
    this.detectors.delete(`${accountId}/${region}`);
    for (const record of this.recordsOfAccount(accountId, region)) {
      if (record.status !== "Created") this.setStatus(record, "Removed");
    }
  }

  /** The record of `accountId` as a member of `administratorId` in `region`. */
  member(administratorId: string, region: string, accountId: string): MemberRecord | undefined {
    const record = this.members.get(`${administratorId}/${region}`)?.get(accountId);
    return record && this.advance(record);
  }

  /**
   * The administrator's members in a region, by account id. The order is kept between calls (a large
   * organization's ListMembers pages would otherwise sort every member on every page).
   */
  membersOf(administratorId: string, region: string): MemberRecord[] {
    const key = `${administratorId}/${region}`;
    let sorted = this.sortedMembers.get(key);
    if (sorted === undefined) {
      sorted = [...(this.members.get(key)?.values() ?? [])].sort((a, b) =>
        a.accountId.localeCompare(b.accountId),
      );
      this.sortedMembers.set(key, sorted);
    }
    return sorted.map((record) => this.advance(record));
  }

  /** Every member record of every administrator. */
  allMembers(): MemberRecord[] {
    return [...this.members.values()].flatMap((byAccount) =>
      [...byAccount.values()].map((r) => this.advance(r)),
    );
  }

  /**
   * A member as a finished onboarding leaves it, without the calls that made it (the bench's
   * organizations of tens of thousands): the member's detector with `features`, its record Enabled.
   */
  seedEnabledMember(
    administratorId: string,
    region: string,
    accountId: string,
    email: string,
    features: readonly FeatureRequest[],
  ): void {
    if (this.detector(accountId, region) === undefined) this.putDetector(accountId, region);
    this.configureFeatures(accountId, region, features);
    this.sortedMembers.delete(`${administratorId}/${region}`);
    this.recordsOf(administratorId, region).set(accountId, {
      administratorId,
      accountId,
      region,
      email,
      status: "Enabled",
      updatedAt: this.timestamp(),
    });
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
    const existing = this.member(administratorId, region, accountId);
    // The delegated administrator's CreateMembers (re-)enables an organization account it holds but that is
    // not associated (Created, Removed, Resigned…): "organization members: CreateMembers only".
    const byDelegation =
      this.delegatedAdministrator(region)?.accountId === administratorId &&
      this.organization.get(accountId) !== undefined;
    if (
      existing !== undefined &&
      (!byDelegation || existing.status === "Enabled" || existing.status === "Disabled")
    ) {
      return reject(GuardDutyText.alreadyMember);
    }
    if (this.otherAdministrator(accountId, region, administratorId) !== undefined) {
      return reject(GuardDutyText.memberOfAnotherAdministrator);
    }
    if (email === undefined || email === "") {
      return reject(GuardDutyText.emailMissing);
    }
    if (existing === undefined && this.recordsOf(administratorId, region).size >= this.scenario.maxMembers) {
      return reject(GuardDutyText.memberLimit);
    }
    if (this.injectInternalError("CreateMembers", region)) {
      return reject(GuardDutyText.internalError);
    }
    // The region's delegated administrator enables an organization account at once; anyone else (and any
    // account outside the organization) gets an invitation-mode member record.
    const enableDirectly = byDelegation;
    const record: MemberRecord = {
      administratorId,
      accountId,
      region,
      email,
      status: enableDirectly ? "Enabled" : "Created",
      updatedAt: this.timestamp(),
      ...(enableDirectly && { viaOrganization: true }),
    };
    if (enableDirectly && this.detector(accountId, region) === undefined) {
      // The delegated administrator enables GuardDuty in organization accounts it adds, with the plans
      // the organization configuration auto-enables (NEW or ALL) and the others off.
      this.putDetector(accountId, region);
      const on = (autoEnable: AutoEnable) => (autoEnable === "NONE" ? "DISABLED" : "ENABLED");
      this.configureFeatures(
        accountId,
        region,
        // Runtime Monitoring stands for EKS Runtime Monitoring too (a detector cannot take both at once).
        this.organizationConfiguration(region)
          .features.filter((feature) => feature.name !== "EKS_RUNTIME_MONITORING")
          .map((feature) => ({
            name: feature.name,
            status: on(feature.autoEnable),
            additional: feature.additionalConfiguration.map((item) => ({
              name: item.name as never,
              status: on(item.autoEnable),
            })),
          })),
      );
    }
    this.sortedMembers.delete(`${administratorId}/${region}`);
    this.recordsOf(administratorId, region).set(accountId, record);
    return [];
  }

  /**
   * InviteMembers for one account: Created, Removed, Resigned → Invited (counting each invitation sent),
   * through EmailVerificationInProgress when GuardDuty e-mails the member's root address.
   */
  inviteMember(
    administratorId: string,
    region: string,
    accountId: string,
    emailNotification = false,
  ): Unprocessed[] {
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
    if (this.isOrganizationMember(administratorId, region, record)) {
      return reject(GuardDutyText.organizationMemberNotInvited);
    }
    // "…has already invited or is already the GuardDuty master…" (GuardDuty's unprocessed-account text): a member invited, being
    // verified or associated is not invited again, so a retried call whose answer was lost sends nothing twice.
    if (ASSOCIATED_OR_PENDING.has(record.status)) {
      return reject(GuardDutyText.alreadyInvitedOrAdministrator);
    }
    if (record.status === "EmailVerificationFailed") {
      return reject(GuardDutyText.emailVerificationFailed);
    }
    if (this.injectInternalError("InviteMembers", region)) {
      return reject(GuardDutyText.internalError);
    }
    const at = this.timestamp();
    record.invitationId = randomString(this.invitationIds, "0123456789abcdef", 32);
    record.invitedAt = at;
    record.monitoringStopped = false;
    if (emailNotification) {
      record.verifiedAt = this.now() + this.scenario.emailVerificationMs;
      this.setStatus(record, "EmailVerificationInProgress");
    } else {
      this.setStatus(record, "Invited");
    }
    this.counters.recordInvitation(accountId, region);
    return [];
  }

  /** DeleteMembers for one account: an associated member must be disassociated first. */
  deleteMember(administratorId: string, region: string, accountId: string): Unprocessed[] {
    const record = this.member(administratorId, region, accountId);
    if (record === undefined) return [{ accountId, result: GuardDutyText.notAssociated }];
    if (this.lockedByAutoEnable(record)) return [{ accountId, result: GuardDutyText.autoEnableAll }];
    if (record.status === "Enabled" || record.status === "Disabled") {
      return [{ accountId, result: GuardDutyText.stillAssociated }];
    }
    this.members.get(`${administratorId}/${region}`)?.delete(accountId);
    this.sortedMembers.delete(`${administratorId}/${region}`);
    return [];
  }

  /** DisassociateMembers for one account: the record stays, as Removed. */
  disassociateMember(administratorId: string, region: string, accountId: string): Unprocessed[] {
    const record = this.member(administratorId, region, accountId);
    if (record === undefined) {
      return [{ accountId, result: GuardDutyText.notAssociated }];
    }
    if (this.lockedByAutoEnable(record)) return [{ accountId, result: GuardDutyText.autoEnableAll }];
    this.setStatus(record, "Removed");
    return [];
  }

  /**
   * The organization's GuardDuty delegated administrator in a region: the scenario's administrator
   * account in `delegatedAdministratorRegions` until the management account changes it.
   */
  delegatedAdministrator(region: string): Delegation | undefined {
    const explicit = this.delegations.get(region);
    if (explicit !== undefined) return explicit ?? undefined;
    const regions = this.scenario.delegatedAdministratorRegions;
    return regions === "*" || regions.includes(region)
      ? { accountId: this.organization.administratorAccountId, region, since: 0 }
      : undefined;
  }

  /**
   * The accounts that are GuardDuty's delegated administrator in at least one region, each with its
   * earliest designation: Organizations lists them as guardduty.amazonaws.com's delegated administrators.
   */
  delegatedAccounts(): Delegation[] {
    const regions = this.scenario.delegatedAdministratorRegions;
    const seeded =
      regions === "*" ? ["*"] : regions.filter((region) => this.delegations.get(region) !== null);
    const all: Delegation[] = [
      ...seeded.map((region) => ({ accountId: this.organization.administratorAccountId, region, since: 0 })),
      ...[...this.delegations.values()].flatMap((delegation) => delegation ?? []),
    ];
    const byAccount = new Map<string, Delegation>();
    for (const delegation of all) {
      const known = byAccount.get(delegation.accountId);
      if (known === undefined || delegation.since < known.since)
        byAccount.set(delegation.accountId, delegation);
    }
    return [...byAccount.values()];
  }

  /** EnableOrganizationAdminAccount (management account only): designates the region's delegated administrator. */
  enableOrganizationAdministrator(caller: string, region: string, adminAccountId: string): void {
    this.requireManagement(caller);
    if (this.organization.get(adminAccountId) === undefined) {
      throw badRequest(GuardDutyText.notOrganizationAccount);
    }
    if (this.detector(caller, region) === undefined) {
      throw badRequest(GuardDutyText.managementMustEnableGuardDuty);
    }
    const current = this.delegatedAdministrator(region);
    if (current?.accountId === adminAccountId) return;
    if (current !== undefined) throw badRequest(GuardDutyText.anotherDelegatedAdministrator);
    this.delegations.set(region, { accountId: adminAccountId, region, since: this.now() });
  }

  /** DisableOrganizationAdminAccount (management account only). */
  disableOrganizationAdministrator(caller: string, region: string, adminAccountId: string): void {
    this.requireManagement(caller);
    if (this.delegatedAdministrator(region)?.accountId !== adminAccountId) {
      throw badRequest(GuardDutyText.notDelegatedAdministrator);
    }
    this.delegations.set(region, null);
  }

  /** ListOrganizationAdminAccounts (management account only): at most one per region (model `AdminAccounts` max 1). */
  organizationAdministrators(caller: string, region: string): Delegation[] {
    this.requireManagement(caller);
    const delegation = this.delegatedAdministrator(region);
    return delegation === undefined ? [] : [delegation];
  }

  /**
   * The organization configuration of a region (its auto-enable settings and features), whoever asks:
   * what the delegated administrator's DescribeOrganizationConfiguration answers, for applying its
   * feature auto-enable to members' detectors.
   */
  organizationConfiguration(region: string): OrganizationConfiguration {
    let configuration = this.organizationConfigurations.get(region);
    if (configuration === undefined) {
      configuration = defaultOrganizationConfiguration(this.scenario.autoEnableOrganizationMembers);
      this.organizationConfigurations.set(region, configuration);
    }
    return configuration;
  }

  /** DescribeOrganizationConfiguration: for the region's delegated administrator only. */
  describeOrganizationConfiguration(
    caller: string,
    region: string,
  ): OrganizationConfiguration & { readonly memberAccountLimitReached: boolean } {
    this.requireDelegatedAdministrator(caller, region);
    return {
      ...this.organizationConfiguration(region),
      memberAccountLimitReached: this.recordsOf(caller, region).size >= this.scenario.maxMembers,
    };
  }

  /** UpdateOrganizationConfiguration: for the region's delegated administrator only; features merge by name. */
  updateOrganizationConfiguration(
    caller: string,
    region: string,
    update: OrganizationConfigurationUpdate,
  ): void {
    this.requireDelegatedAdministrator(caller, region);
    const configuration = this.organizationConfiguration(region);
    configuration.autoEnableOrganizationMembers = update.autoEnableOrganizationMembers;
    for (const change of update.features ?? []) {
      const feature = configuration.features.find((f) => f.name === change.name);
      if (feature === undefined) continue;
      if (change.autoEnable !== undefined) feature.autoEnable = change.autoEnable;
      for (const extra of change.additionalConfiguration ?? []) {
        const current = feature.additionalConfiguration.find((c) => c.name === extra.name);
        if (current === undefined) throw badRequest(GuardDutyText.invalidInput);
        if (extra.autoEnable !== undefined) current.autoEnable = extra.autoEnable;
      }
    }
  }

  /** StopMonitoringMembers / StartMonitoringMembers for one associated member: Disabled ↔ Enabled. */
  setMonitoring(administratorId: string, region: string, accountId: string, monitor: boolean): Unprocessed[] {
    const record = this.member(administratorId, region, accountId);
    if (record === undefined || (record.status !== "Enabled" && record.status !== "Disabled")) {
      return [{ accountId, result: GuardDutyText.notAssociated }];
    }
    record.monitoringStopped = !monitor;
    this.settle(record);
    return [];
  }

  /** The pending invitations a member account has received in a region (once they have propagated). */
  invitationsFor(accountId: string, region: string): MemberRecord[] {
    const visibleBefore = this.now() - this.scenario.invitationDelayMs;
    return this.recordsOfAccount(accountId, region).filter(
      (record) => record.status === "Invited" && Date.parse(record.invitedAt ?? "") <= visibleBefore,
    );
  }

  /** DeclineInvitations / DeleteInvitations (member side): the administrator's invitation is gone. */
  declineInvitation(accountId: string, region: string, administratorId: string): Unprocessed[] {
    const record = this.member(administratorId, region, accountId);
    if (record === undefined || record.status !== "Invited") {
      return [{ accountId: administratorId, result: GuardDutyText.invitationNotFound }];
    }
    this.setStatus(record, "Removed");
    return [];
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
    this.setStatus(record, "Enabled");
    this.settle(record);
  }

  /** DisassociateFromAdministratorAccount (member side): the administrator sees its member Resigned. */
  disassociateFromAdministrator(accountId: string, region: string, detectorId: string): void {
    this.requireDetector(accountId, region, detectorId);
    const record = this.administratorRecordOf(accountId, region);
    if (record === undefined || (record.status !== "Enabled" && record.status !== "Disabled")) {
      throw badRequest(GuardDutyText.notAssociatedWithAdministrator);
    }
    record.monitoringStopped = false;
    this.setStatus(record, "Resigned");
  }

  /** The member's relationship with its administrator (associated first, else a pending invitation). */
  administratorRecordOf(accountId: string, region: string): MemberRecord | undefined {
    const records = this.recordsOfAccount(accountId, region).map((record) => this.advance(record));
    return (
      records.find((r) => r.status === "Enabled" || r.status === "Disabled") ??
      records.find((r) => r.status === "Invited")
    );
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

  /**
   * CreateDetector with protection plans (guardduty-features.ts: the named ones as given, the others by the
   * default-on rule). For another module too, e.g. organization mode applying its auto-enable settings.
   */
  createDetectorWithFeatures(
    accountId: string,
    region: string,
    features: readonly FeatureRequest[],
  ): Detector {
    const at = this.now();
    const initial = initialFeatures(features, at);
    const detector = this.createDetector(accountId, region);
    this.featuresByDetector.set(detector.id, initial);
    return detector;
  }

  /** The protection plans of the account's detector in a region, or undefined without a detector. */
  featuresOf(accountId: string, region: string): FeatureSummary | undefined {
    const detector = this.detector(accountId, region);
    return detector && summarize(this.detectorFeatures(detector));
  }

  /** The full feature state of a detector (timestamps included), for the wire layer's answers. */
  detectorFeatures(detector: Detector): DetectorFeatures {
    let features = this.featuresByDetector.get(detector.id);
    if (features === undefined) {
      features = initialFeatures([], Date.parse(detector.createdAt));
      this.featuresByDetector.set(detector.id, features);
    }
    return features;
  }

  /** UpdateDetector `features` on the caller's own detector: the named features only. */
  updateFeatures(
    accountId: string,
    region: string,
    detectorId: string,
    features: readonly FeatureRequest[],
  ): void {
    const detector = this.requireDetector(accountId, region, detectorId);
    this.setFeatures(detector, features);
  }

  /**
   * Changes the named features of the account's detector in a region, whoever asks (e.g. organization mode
   * applying its auto-enable settings to a detector CreateMembers made); false when it has no detector.
   */
  configureFeatures(accountId: string, region: string, features: readonly FeatureRequest[]): boolean {
    const detector = this.detector(accountId, region);
    if (detector === undefined) return false;
    this.setFeatures(detector, features);
    return true;
  }

  /** GetMemberDetectors for one account: the member's detector, or why there is none to show. */
  memberDetector(administratorId: string, region: string, accountId: string): Detector | Unprocessed {
    if (this.member(administratorId, region, accountId) === undefined) {
      return { accountId, result: GuardDutyText.notAssociated };
    }
    return this.detector(accountId, region) ?? { accountId, result: GuardDutyText.memberHasNoDetector };
  }

  /** UpdateMemberDetectors for one account: only an associated member's own detector changes. */
  updateMemberFeatures(
    administratorId: string,
    region: string,
    accountId: string,
    features: readonly FeatureRequest[],
  ): Unprocessed[] {
    const record = this.member(administratorId, region, accountId);
    if (record === undefined || (record.status !== "Enabled" && record.status !== "Disabled")) {
      return [{ accountId, result: GuardDutyText.notAssociatedMember }];
    }
    const detector = this.detector(accountId, region);
    if (detector === undefined) return [{ accountId, result: GuardDutyText.memberHasNoDetector }];
    this.setFeatures(detector, features);
    return [];
  }

  private setFeatures(detector: Detector, features: readonly FeatureRequest[]): void {
    const at = this.now();
    applyFeatures(this.detectorFeatures(detector), features, at);
    if (features.length > 0) detector.updatedAt = this.timestamp();
  }

  private requireManagement(caller: string): void {
    if (caller !== this.organization.managementAccountId) {
      throw badRequest(GuardDutyText.notOrganizationAdministrator);
    }
  }

  private requireDelegatedAdministrator(caller: string, region: string): void {
    if (this.delegatedAdministrator(region)?.accountId !== caller) {
      throw badRequest(GuardDutyText.notOrganizationAdministrator);
    }
  }

  /** An organization member of the region's delegated administrator (enabled by it, or in its organization). */
  private isOrganizationMember(administratorId: string, region: string, record: MemberRecord): boolean {
    return (
      record.viaOrganization === true ||
      (this.delegatedAdministrator(region)?.accountId === administratorId &&
        this.organization.get(record.accountId) !== undefined)
    );
  }

  /** With auto-enable ALL, the delegated administrator cannot delete or disassociate organization members. */
  private lockedByAutoEnable(record: MemberRecord): boolean {
    return (
      this.isOrganizationMember(record.administratorId, record.region, record) &&
      this.organizationConfiguration(record.region).autoEnableOrganizationMembers === "ALL"
    );
  }

  /** The account's member records under every administrator in a region. */
  private recordsOfAccount(accountId: string, region: string): MemberRecord[] {
    const records: MemberRecord[] = [];
    for (const byAccount of this.members.values()) {
      const record = byAccount.get(accountId);
      if (record !== undefined && record.region === region) {
        records.push(this.advance(record));
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
    const generation = this.detectorGeneration++;
    const id = createHash("md5")
      .update(`${this.scenario.seed}/${accountId}/${region}/${generation}`)
      .digest("hex");
    const at = this.timestamp();
    const detector: Detector = {
      id,
      accountId,
      region,
      createdAt: at,
      updatedAt: at,
      enabled: true,
      // GuardDuty's default for a new detector (CreateDetector `findingPublishingFrequency`).
      findingPublishingFrequency: "SIX_HOURS",
    };
    this.detectors.set(`${accountId}/${region}`, detector);
    this.serviceLinkedRoles.add(accountId);
    return detector;
  }

  /**
   * Time-driven transitions: an e-mail verification ends (Invited, or EmailVerificationFailed). It fails
   * for the scenario's accounts whatever their address, and for an address no mail reaches: the member
   * deleted and created again with a deliverable address (the account's own) verifies.
   */
  private advance(record: MemberRecord): MemberRecord {
    if (record.status === "EmailVerificationInProgress" && (record.verifiedAt ?? 0) <= this.now()) {
      const failed =
        this.scenario.emailVerificationFailures.includes(record.accountId) || undeliverable(record.email);
      this.setStatus(record, failed ? "EmailVerificationFailed" : "Invited");
    }
    return record;
  }

  /** An associated member is Disabled while its administrator stopped monitoring it or its detector is suspended. */
  private settle(record: MemberRecord): void {
    if (record.status !== "Enabled" && record.status !== "Disabled") return;
    const detector = this.detectors.get(`${record.accountId}/${record.region}`);
    const monitored = !record.monitoringStopped && detector?.enabled !== false;
    this.setStatus(record, monitored ? "Enabled" : "Disabled");
  }

  private setStatus(record: MemberRecord, status: RelationshipStatus): void {
    if (record.status === status) return;
    record.status = status;
    record.updatedAt = this.timestamp();
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
