/**
 * GuardDuty on the wire: REST-JSON (`restJson1`) routes, input validation per the API model
 * (botocore `data/guardduty/2017-11-28/service-2.json`), camelCase payloads and GuardDuty's error format.
 *
 * Errors are the HTTP status plus `x-amzn-ErrorType: <Code>` and a body `{"message", "__type"}`; the SDK
 * reads the code from the header first, so `error.name` is the code and `$metadata.httpStatusCode` the
 * status. Per-account rejections are not errors: HTTP 200 with `unprocessedAccounts`.
 */
import type { ServerResponse } from "node:http";
import {
  ADDITIONAL_NAMES,
  type AdditionalName,
  type DetectorFeatures,
  dataSourceFeatures,
  FEATURE_NAMES,
  FEATURE_STATUSES,
  type FeatureName,
  type FeatureRequest,
  type FeatureStatus,
  FOUNDATIONAL_FEATURES,
  mergeRequests,
  validateFeatures,
} from "./guardduty-features.ts";
import {
  ADDITIONAL_CONFIGURATIONS,
  type AutoEnable,
  type Detector,
  type GuardDutyState,
  GuardDutyText,
  type MemberRecord,
  ORGANIZATION_FEATURES,
  type OrganizationConfigurationUpdate,
  type OrganizationFeatureName,
  type Unprocessed,
} from "./guardduty-state.ts";
import {
  isRecord,
  jsonAuthErrors,
  SandboxError,
  type SandboxRequest,
  type ServiceCall,
  type WireService,
  writeJson,
} from "./http.ts";

/** restJson1 answers authorization and credential errors with HTTP 403. */
const AUTH_ERRORS = jsonAuthErrors(403);

/** Model limits: `AccountIds`/`AccountDetails` 1–50 items, `MaxResults` 1–50, `AccountId` length 12. */
const MAX_IDS_PER_CALL = 50;
const MAX_RESULTS = 50;
const ACCOUNT_ID = /^\d{12}$/;
/** Model `Email`: length 1–64. */
const MAX_EMAIL_LENGTH = 64;

/** What a handler receives: the caller, the region, the path's detector id and the parsed body. */
interface Call {
  readonly request: SandboxRequest;
  readonly caller: string;
  readonly region: string;
  readonly detectorId: string;
  readonly body: () => Record<string, unknown>;
}

interface Route {
  readonly method: "GET" | "POST" | "DELETE";
  /** Path pattern; the first capture group, if any, is the detector id. */
  readonly path: RegExp;
  readonly operation: string;
  readonly handler: (call: Call) => unknown;
  /** The actions on a detector have it as their resource; the others have no resource type (`*`). */
  readonly onDetector?: boolean;
}

/** GuardDuty's service-linked role, which CreateDetector creates on first use (GuardDuty User Guide). */
const SERVICE_LINKED_ROLE = "role/aws-service-role/guardduty.amazonaws.com/AWSServiceRoleForAmazonGuardDuty";

function badRequest(detail?: string): SandboxError {
  const message =
    detail === undefined ? GuardDutyText.invalidInput : `${GuardDutyText.invalidInput} ${detail}`;
  return new SandboxError("BadRequestException", 400, message);
}

/** Options of the wire layer that change what GuardDuty accepts. */
export interface GuardDutyWireOptions {
  /** See `ScenarioOptions.missingEmail`. */
  readonly missingEmail: "bad-request" | "unprocessed";
}

export class GuardDutyService implements WireService {
  readonly name = "guardduty";
  private readonly routes: readonly Route[];

  constructor(
    private readonly state: GuardDutyState,
    private readonly options: GuardDutyWireOptions,
  ) {
    const detector = "/detector/([^/]+)";
    const route = (
      method: Route["method"],
      path: string,
      operation: string,
      handler: Route["handler"],
      onDetector = false,
    ): Route => ({
      method,
      path: new RegExp(`^${path}/?$`),
      operation,
      handler,
      onDetector,
    });
    this.routes = [
      route("GET", "/detector", "ListDetectors", (c) => this.listDetectors(c)),
      route("POST", "/detector", "CreateDetector", (c) => this.createDetector(c)),
      // Service Authorization Reference: GetDetector, UpdateDetector and DeleteDetector act on a detector.
      route("GET", detector, "GetDetector", (c) => this.getDetector(c), true),
      route("POST", detector, "UpdateDetector", (c) => this.updateDetector(c), true),
      route("DELETE", detector, "DeleteDetector", (c) => this.deleteDetector(c), true),
      route("POST", `${detector}/member`, "CreateMembers", (c) => this.createMembers(c)),
      route("GET", `${detector}/member`, "ListMembers", (c) => this.listMembers(c)),
      route("POST", `${detector}/member/invite`, "InviteMembers", (c) => this.inviteMembers(c)),
      route("POST", `${detector}/member/get`, "GetMembers", (c) => this.getMembers(c)),
      route("POST", `${detector}/member/detector/get`, "GetMemberDetectors", (c) =>
        this.getMemberDetectors(c),
      ),
      route("POST", `${detector}/member/detector/update`, "UpdateMemberDetectors", (c) =>
        this.updateMemberDetectors(c),
      ),
      route("POST", `${detector}/member/delete`, "DeleteMembers", (c) => this.forEachMember(c, "delete")),
      route("POST", `${detector}/member/disassociate`, "DisassociateMembers", (c) =>
        this.forEachMember(c, "disassociate"),
      ),
      route("POST", `${detector}/member/stop`, "StopMonitoringMembers", (c) => this.forEachMember(c, "stop")),
      route("POST", `${detector}/member/start`, "StartMonitoringMembers", (c) =>
        this.forEachMember(c, "start"),
      ),
      // The organization: its delegated administrator (management account) and configuration (delegated administrator).
      route("POST", "/admin/enable", "EnableOrganizationAdminAccount", (c) =>
        this.organizationAdmin(c, true),
      ),
      route("POST", "/admin/disable", "DisableOrganizationAdminAccount", (c) =>
        this.organizationAdmin(c, false),
      ),
      route("GET", "/admin", "ListOrganizationAdminAccounts", (c) =>
        paginate(
          this.state
            .organizationAdministrators(c.caller, c.region)
            .map((d) => ({ adminAccountId: d.accountId, adminStatus: "ENABLED" })),
          c.request.query,
          "adminAccounts",
        ),
      ),
      route("GET", `${detector}/admin`, "DescribeOrganizationConfiguration", (c) =>
        this.describeOrganizationConfiguration(c),
      ),
      route("POST", `${detector}/admin`, "UpdateOrganizationConfiguration", (c) =>
        this.updateOrganizationConfiguration(c),
      ),
      route("GET", "/invitation", "ListInvitations", (c) => this.listInvitations(c)),
      route("GET", "/invitation/count", "GetInvitationsCount", (c) => ({
        invitationsCount: this.state.invitationsFor(c.caller, c.region).length,
      })),
      route("POST", "/invitation/decline", "DeclineInvitations", (c) => this.declineInvitations(c)),
      route("POST", "/invitation/delete", "DeleteInvitations", (c) => this.declineInvitations(c)),
      route("POST", `${detector}/administrator`, "AcceptAdministratorInvitation", (c) =>
        this.acceptInvitation(c, "administratorId"),
      ),
      route("POST", `${detector}/master`, "AcceptInvitation", (c) => this.acceptInvitation(c, "masterId")),
      // The model requires `Administrator`; an account without one answers it empty.
      route("GET", `${detector}/administrator`, "GetAdministratorAccount", (c) => ({
        administrator: this.administratorOf(c) ?? {},
      })),
      route("GET", `${detector}/master`, "GetMasterAccount", (c) => ({
        master: this.administratorOf(c) ?? {},
      })),
      route("POST", `${detector}/administrator/disassociate`, "DisassociateFromAdministratorAccount", (c) =>
        this.disassociateFromAdministrator(c),
      ),
      route("POST", `${detector}/master/disassociate`, "DisassociateFromMasterAccount", (c) =>
        this.disassociateFromAdministrator(c),
      ),
    ];
  }

  route(request: SandboxRequest, caller: string): ServiceCall | SandboxError {
    for (const route of this.routes) {
      const match = route.method === request.method ? route.path.exec(request.path) : null;
      if (match === null) {
        continue;
      }
      let parsed: Record<string, unknown> | undefined;
      const call: Call = {
        request,
        caller,
        region: request.region,
        detectorId: match[1] ?? "",
        body: () => {
          parsed ??= parseBody(request.body);
          return parsed;
        },
      };
      const arn = `arn:aws:guardduty:${request.region}:${caller}:detector/${call.detectorId}`;
      return {
        operation: route.operation,
        action: `guardduty:${route.operation}`,
        resource: route.onDetector ? arn : "*",
        alsoNeeds: () =>
          route.operation === "CreateDetector" && !this.state.hasServiceLinkedRole(caller)
            ? [
                {
                  action: "iam:CreateServiceLinkedRole",
                  resource: `arn:aws:iam::${caller}:${SERVICE_LINKED_ROLE}`,
                  context: { "iam:AWSServiceName": "guardduty.amazonaws.com" },
                },
              ]
            : [],
        run: () => route.handler(call),
      };
    }
    return new SandboxError(
      "UnknownOperationException",
      404,
      `The GuardDuty sandbox does not implement ${request.method} ${request.path}`,
    );
  }

  writeResult(res: ServerResponse, output: unknown): void {
    writeJson(res, 200, "application/json", output);
  }

  writeError(res: ServerResponse, error: SandboxError): void {
    writeJson(
      res,
      error.status,
      "application/json",
      { message: error.message, __type: error.code, type: error.code, ...error.fields },
      { "x-amzn-errortype": error.code },
    );
  }

  throttlingError(): SandboxError {
    return new SandboxError("TooManyRequestsException", 429, "Rate exceeded");
  }

  serverError(): SandboxError {
    return new SandboxError(
      "InternalServerErrorException",
      500,
      "The request failed due to an internal error.",
    );
  }

  readonly accessDenied = AUTH_ERRORS.accessDenied;
  readonly unrecognizedClient = AUTH_ERRORS.unrecognizedClient;
  readonly expiredToken = AUTH_ERRORS.expiredToken;

  private listDetectors(call: Call): unknown {
    const detector = this.state.detector(call.caller, call.region);
    return paginate(detector === undefined ? [] : [detector.id], call.request.query, "detectorIds");
  }

  private createDetector(call: Call): unknown {
    const { enable, findingPublishingFrequency } = call.body();
    if (typeof enable !== "boolean") {
      throw badRequest("enable must be a boolean.");
    }
    const frequencyValue = frequency(findingPublishingFrequency);
    const detector = this.state.createDetectorWithFeatures(
      call.caller,
      call.region,
      requestedFeatures(call.body()),
    );
    this.state.updateDetector(call.caller, call.region, detector.id, {
      enable,
      findingPublishingFrequency: frequencyValue,
    });
    return { detectorId: detector.id };
  }

  private getDetector(call: Call): unknown {
    const detector = this.state.requireDetector(call.caller, call.region, call.detectorId);
    const features = this.state.detectorFeatures(detector);
    return {
      createdAt: detector.createdAt,
      findingPublishingFrequency: detector.findingPublishingFrequency,
      serviceRole: `arn:aws:iam::${call.caller}:${SERVICE_LINKED_ROLE}`,
      status: detector.enabled ? "ENABLED" : "DISABLED",
      updatedAt: detector.updatedAt,
      dataSources: dataSourcesResult(detector, features),
      features: [
        // `DetectorFeatureResult`: the foundational sources first, always on, as old as the detector.
        ...FOUNDATIONAL_FEATURES.map((name) => ({
          name,
          status: "ENABLED",
          updatedAt: epochSeconds(Date.parse(detector.createdAt)),
        })),
        ...featureResults(features),
      ],
    };
  }

  private updateDetector(call: Call): unknown {
    const { enable, findingPublishingFrequency } = call.body();
    if (enable !== undefined && typeof enable !== "boolean") throw badRequest("enable must be a boolean.");
    const frequencyValue = frequency(findingPublishingFrequency);
    const features = requestedFeatures(call.body());
    this.state.updateDetector(call.caller, call.region, call.detectorId, {
      enable,
      findingPublishingFrequency: frequencyValue,
    });
    this.state.updateFeatures(call.caller, call.region, call.detectorId, features);
    return {};
  }

  /**
   * GetMemberDetectors (model: 1–50 `accountIds`): each member's detector's features; an account that is not
   * a member, or has no detector, is unprocessed. The model makes `members` required with at least one item,
   * which an answer where every account is unprocessed cannot keep: it is then empty (unsourced).
   */
  private getMemberDetectors(call: Call): unknown {
    this.state.requireDetector(call.caller, call.region, call.detectorId);
    const members: unknown[] = [];
    const unprocessedAccounts: unknown[] = [];
    for (const accountId of accountIds(call.body().accountIds)) {
      const found = this.state.memberDetector(call.caller, call.region, accountId);
      if ("result" in found) {
        unprocessedAccounts.push(toUnprocessed(found));
        continue;
      }
      const features = this.state.detectorFeatures(found);
      members.push({
        accountId,
        dataSources: dataSourcesResult(found, features),
        features: featureResults(features),
      });
    }
    return { members, unprocessedAccounts };
  }

  /** UpdateMemberDetectors (model: 1–50 `accountIds`, `features` as `MemberFeaturesConfiguration`). */
  private updateMemberDetectors(call: Call): unknown {
    this.state.requireDetector(call.caller, call.region, call.detectorId);
    const body = call.body();
    const ids = accountIds(body.accountIds);
    const features = requestedFeatures(body);
    const unprocessed = ids.flatMap((id) =>
      this.state.updateMemberFeatures(call.caller, call.region, id, features),
    );
    return { unprocessedAccounts: unprocessed.map(toUnprocessed) };
  }

  private deleteDetector(call: Call): unknown {
    this.state.deleteDetector(call.caller, call.region, call.detectorId);
    return {};
  }

  private organizationAdmin(call: Call, enable: boolean): unknown {
    const adminAccountId = accountId12(call.body().adminAccountId);
    if (enable) this.state.enableOrganizationAdministrator(call.caller, call.region, adminAccountId);
    else this.state.disableOrganizationAdministrator(call.caller, call.region, adminAccountId);
    return {};
  }

  private describeOrganizationConfiguration(call: Call): unknown {
    this.state.requireDetector(call.caller, call.region, call.detectorId);
    // Model `MaxResults` 1–50: every feature fits one page, so nextToken is never answered.
    paginate([], call.request.query, "features");
    const configuration = this.state.describeOrganizationConfiguration(call.caller, call.region);
    return {
      autoEnable: configuration.autoEnableOrganizationMembers !== "NONE",
      memberAccountLimitReached: configuration.memberAccountLimitReached,
      autoEnableOrganizationMembers: configuration.autoEnableOrganizationMembers,
      features: configuration.features.map((feature) => ({
        name: feature.name,
        autoEnable: feature.autoEnable,
        ...(feature.additionalConfiguration.length > 0 && {
          additionalConfiguration: feature.additionalConfiguration.map((extra) => ({
            name: extra.name,
            autoEnable: extra.autoEnable,
          })),
        }),
      })),
    };
  }

  /** Model `UpdateOrganizationConfigurationRequest`: `autoEnableOrganizationMembers` or `autoEnable`, not both. */
  private updateOrganizationConfiguration(call: Call): unknown {
    this.state.requireDetector(call.caller, call.region, call.detectorId);
    const body = call.body();
    if (body.autoEnableOrganizationMembers !== undefined && body.autoEnable !== undefined) {
      throw badRequest("Provide autoEnableOrganizationMembers or autoEnable, not both.");
    }
    let members: AutoEnable;
    if (body.autoEnableOrganizationMembers !== undefined) {
      members = autoEnableValue(body.autoEnableOrganizationMembers, "autoEnableOrganizationMembers");
    } else if (typeof body.autoEnable === "boolean") {
      members = body.autoEnable ? "NEW" : "NONE";
    } else {
      throw badRequest("autoEnableOrganizationMembers or autoEnable is required.");
    }
    const features = body.features === undefined ? [] : unboundedList(body.features, "features");
    const update: OrganizationConfigurationUpdate = {
      autoEnableOrganizationMembers: members,
      features: features.map((raw) => {
        if (!isRecord(raw) || !ORGANIZATION_FEATURES.includes(raw.name as OrganizationFeatureName)) {
          throw badRequest(`features[].name must be one of ${ORGANIZATION_FEATURES.join(", ")}.`);
        }
        const name = raw.name as OrganizationFeatureName;
        const allowed = ADDITIONAL_CONFIGURATIONS[name] ?? [];
        const extras =
          raw.additionalConfiguration === undefined
            ? []
            : unboundedList(raw.additionalConfiguration, "additionalConfiguration");
        return {
          name,
          autoEnable:
            raw.autoEnable === undefined ? undefined : autoEnableValue(raw.autoEnable, "autoEnable"),
          additionalConfiguration: extras.map((extra) => {
            if (!isRecord(extra) || typeof extra.name !== "string" || !allowed.includes(extra.name)) {
              throw badRequest(
                `additionalConfiguration[].name of ${name} must be one of ${allowed.join(", ") || "none"}.`,
              );
            }
            return {
              name: extra.name,
              autoEnable:
                extra.autoEnable === undefined ? undefined : autoEnableValue(extra.autoEnable, "autoEnable"),
            };
          }),
        };
      }),
    };
    const names = new Set(update.features?.map((f) => f.name));
    if (names.has("RUNTIME_MONITORING") && names.has("EKS_RUNTIME_MONITORING")) {
      // The model's documentation: specifying both causes an error.
      throw badRequest("EKS_RUNTIME_MONITORING and RUNTIME_MONITORING cannot be specified together.");
    }
    this.state.updateOrganizationConfiguration(call.caller, call.region, update);
    return {};
  }

  private declineInvitations(call: Call): unknown {
    const unprocessed = accountIds(call.body().accountIds).flatMap((administratorId) =>
      this.state.declineInvitation(call.caller, call.region, administratorId),
    );
    return { unprocessedAccounts: unprocessed.map(toUnprocessed) };
  }

  private disassociateFromAdministrator(call: Call): unknown {
    this.state.disassociateFromAdministrator(call.caller, call.region, call.detectorId);
    return {};
  }

  private createMembers(call: Call): unknown {
    this.state.requireDetector(call.caller, call.region, call.detectorId);
    const details = this.accountDetails(call.body().accountDetails);
    const unprocessedAccounts = details.flatMap((d) =>
      this.state.createMember(call.caller, call.region, d.accountId, d.email),
    );
    return { unprocessedAccounts: unprocessedAccounts.map(toUnprocessed) };
  }

  private inviteMembers(call: Call): unknown {
    this.state.requireDetector(call.caller, call.region, call.detectorId);
    const body = call.body();
    const ids = accountIds(body.accountIds);
    if (body.disableEmailNotification !== undefined && typeof body.disableEmailNotification !== "boolean") {
      throw badRequest("disableEmailNotification must be a boolean.");
    }
    // The member's root address is e-mailed unless the caller turns it off (the model's default: it is sent).
    const notify = body.disableEmailNotification !== true;
    const unprocessed = ids.flatMap((id) => this.state.inviteMember(call.caller, call.region, id, notify));
    return { unprocessedAccounts: unprocessed.map(toUnprocessed) };
  }

  private listMembers(call: Call): unknown {
    this.state.requireDetector(call.caller, call.region, call.detectorId);
    const onlyAssociated = (call.request.query.get("onlyAssociated") ?? "true").toLowerCase();
    if (onlyAssociated !== "true" && onlyAssociated !== "false") {
      throw badRequest('onlyAssociated must be "true" or "false".');
    }
    const records = this.state
      .membersOf(call.caller, call.region)
      .filter((record) => onlyAssociated === "false" || record.status === "Enabled");
    // The page first, then its members' shapes: a page of 50 out of tens of thousands.
    const page = paginate(records, call.request.query, "members") as { members: MemberRecord[] };
    return { ...page, members: page.members.map((record) => this.toMember(record)) };
  }

  private getMembers(call: Call): unknown {
    this.state.requireDetector(call.caller, call.region, call.detectorId);
    const members: unknown[] = [];
    const unprocessedAccounts: unknown[] = [];
    for (const id of accountIds(call.body().accountIds)) {
      const record = this.state.member(call.caller, call.region, id);
      if (record === undefined) {
        unprocessedAccounts.push(toUnprocessed({ accountId: id, result: GuardDutyText.notAssociated }));
      } else {
        members.push(this.toMember(record));
      }
    }
    return { members, unprocessedAccounts };
  }

  private forEachMember(call: Call, action: "delete" | "disassociate" | "stop" | "start"): unknown {
    this.state.requireDetector(call.caller, call.region, call.detectorId);
    const { caller, region } = call;
    const unprocessed = accountIds(call.body().accountIds).flatMap((id) => {
      if (action === "delete") return this.state.deleteMember(caller, region, id);
      if (action === "disassociate") return this.state.disassociateMember(caller, region, id);
      return this.state.setMonitoring(caller, region, id, action === "start");
    });
    return { unprocessedAccounts: unprocessed.map(toUnprocessed) };
  }

  private listInvitations(call: Call): unknown {
    const invitations = this.state.invitationsFor(call.caller, call.region).map((record) => ({
      accountId: record.administratorId,
      invitationId: record.invitationId,
      relationshipStatus: record.status,
      invitedAt: record.invitedAt,
    }));
    return paginate(invitations, call.request.query, "invitations");
  }

  private acceptInvitation(call: Call, administratorField: "administratorId" | "masterId"): unknown {
    const body = call.body();
    const administratorId = body[administratorField];
    const invitationId = body.invitationId;
    if (typeof administratorId !== "string" || typeof invitationId !== "string") {
      throw badRequest(`${administratorField} and invitationId are required.`);
    }
    this.state.acceptInvitation(call.caller, call.region, call.detectorId, administratorId, invitationId);
    return {};
  }

  private administratorOf(call: Call): unknown {
    this.state.requireDetector(call.caller, call.region, call.detectorId);
    const record = this.state.administratorRecordOf(call.caller, call.region);
    return record === undefined
      ? undefined
      : {
          accountId: record.administratorId,
          invitationId: record.invitationId,
          relationshipStatus: record.status,
          invitedAt: record.invitedAt,
        };
  }

  /** Model `AccountDetails`: 1–50 `{accountId (12 digits), email (required, 1–64)}`. */
  private accountDetails(value: unknown): { accountId: string; email: string | undefined }[] {
    const details = list(value, "accountDetails");
    return details.map((detail) => {
      if (!isRecord(detail)) {
        throw badRequest("accountDetails items must be objects.");
      }
      const accountId = accountId12(detail.accountId);
      const email = detail.email;
      if (email === undefined || email === null || email === "") {
        if (this.options.missingEmail === "unprocessed") {
          return { accountId, email: undefined };
        }
        throw badRequest(`The email is missing for account ${accountId}.`);
      }
      if (typeof email !== "string" || email.length > MAX_EMAIL_LENGTH) {
        throw badRequest(`email must be a string of 1 to ${MAX_EMAIL_LENGTH} characters.`);
      }
      return { accountId, email };
    });
  }

  private toMember(record: MemberRecord): unknown {
    return {
      accountId: record.accountId,
      detectorId: this.state.detector(record.accountId, record.region)?.id,
      masterId: record.administratorId,
      administratorId: record.administratorId,
      email: record.email,
      relationshipStatus: record.status,
      invitedAt: record.invitedAt,
      updatedAt: record.updatedAt,
    };
  }
}

/** Model `FindingPublishingFrequency`. */
const FREQUENCIES = ["FIFTEEN_MINUTES", "ONE_HOUR", "SIX_HOURS"] as const;
type Frequency = (typeof FREQUENCIES)[number];

function frequency(value: unknown): Frequency | undefined {
  if (value === undefined) return undefined;
  if (!FREQUENCIES.includes(value as Frequency)) {
    throw badRequest(`findingPublishingFrequency must be one of ${FREQUENCIES.join(", ")}.`);
  }
  return value as Frequency;
}

/** A request's `features` (and deprecated `dataSources`), typed per the model and checked by validateFeatures. */
function requestedFeatures(body: Record<string, unknown>): FeatureRequest[] {
  const features = body.features === undefined ? [] : featureList(body.features);
  const requests = mergeRequests(dataSources(body.dataSources), features);
  validateFeatures(requests);
  return requests;
}

function featureList(value: unknown): FeatureRequest[] {
  if (!Array.isArray(value)) throw badRequest("features must be a list.");
  return value.map((item) => {
    if (!isRecord(item)) throw badRequest("features items must be objects.");
    const additional = item.additionalConfiguration;
    if (additional !== undefined && !Array.isArray(additional)) {
      throw badRequest("additionalConfiguration must be a list.");
    }
    return {
      name: oneOf(item.name, FEATURE_NAMES, "features.name") as FeatureName,
      status: optionalStatus(item.status),
      additional: (additional ?? []).map((entry: unknown) => {
        if (!isRecord(entry)) throw badRequest("additionalConfiguration items must be objects.");
        return {
          name: oneOf(entry.name, ADDITIONAL_NAMES, "additionalConfiguration.name") as AdditionalName,
          status: optionalStatus(entry.status),
        };
      }),
    };
  });
}

function optionalStatus(value: unknown): FeatureStatus | undefined {
  return value === undefined ? undefined : (oneOf(value, FEATURE_STATUSES, "status") as FeatureStatus);
}

function oneOf(value: unknown, allowed: readonly string[], name: string): string {
  if (typeof value !== "string" || !allowed.includes(value)) {
    throw badRequest(`${name} must be one of ${allowed.join(", ")}.`);
  }
  return value;
}

/** Model `DataSourceConfigurations`: `s3Logs.enable`, `kubernetes.auditLogs.enable`, `malwareProtection…ebsVolumes`. */
function dataSources(value: unknown): FeatureRequest[] {
  if (value === undefined) return [];
  if (!isRecord(value)) throw badRequest("dataSources must be an object.");
  const flag = (v: unknown, name: string): boolean | undefined => {
    if (v !== undefined && typeof v !== "boolean") throw badRequest(`${name} must be a boolean.`);
    return v;
  };
  const field = (v: unknown, key: string): unknown => (isRecord(v) ? v[key] : undefined);
  return dataSourceFeatures({
    s3Logs: flag(field(value.s3Logs, "enable"), "dataSources.s3Logs.enable"),
    kubernetesAuditLogs: flag(
      field(field(value.kubernetes, "auditLogs"), "enable"),
      "dataSources.kubernetes.auditLogs.enable",
    ),
    ebsVolumes: flag(
      field(field(value.malwareProtection, "scanEc2InstanceWithFindings"), "ebsVolumes"),
      "dataSources.malwareProtection.scanEc2InstanceWithFindings.ebsVolumes",
    ),
  });
}

/** JSON timestamps are epoch seconds (rest-json's default `unixTimestamp`). */
function epochSeconds(ms: number): number {
  return Math.floor(ms / 1000);
}

/** `DetectorFeatureConfigurationResult` / `MemberFeaturesConfigurationResult` items, in the model's enum order. */
function featureResults(features: DetectorFeatures): unknown[] {
  return FEATURE_NAMES.map((name) => {
    const feature = features[name];
    const additional = Object.entries(feature.additional).map(([item, state]) => ({
      name: item,
      status: state.status,
      updatedAt: epochSeconds(state.updatedAt),
    }));
    return {
      name,
      status: feature.status,
      updatedAt: epochSeconds(feature.updatedAt),
      ...(additional.length > 0 && { additionalConfiguration: additional }),
    };
  });
}

/** GuardDuty's malware protection service-linked role (GuardDuty User Guide, "Service-linked role permissions for Malware Protection"). */
const MALWARE_PROTECTION_ROLE =
  "role/aws-service-role/malware-protection.guardduty.amazonaws.com/AWSServiceRoleForAmazonGuardDutyMalwareProtection";

/** The deprecated `DataSourceConfigurationsResult`, derived from the features (it is required in GetMemberDetectors). */
function dataSourcesResult(detector: Detector, features: DetectorFeatures): unknown {
  const status = (name: FeatureName) => ({ status: features[name].status });
  return {
    cloudTrail: { status: "ENABLED" },
    dnsLogs: { status: "ENABLED" },
    flowLogs: { status: "ENABLED" },
    s3Logs: status("S3_DATA_EVENTS"),
    kubernetes: { auditLogs: status("EKS_AUDIT_LOGS") },
    malwareProtection: {
      scanEc2InstanceWithFindings: { ebsVolumes: status("EBS_MALWARE_PROTECTION") },
      serviceRole: `arn:aws:iam::${detector.accountId}:${MALWARE_PROTECTION_ROLE}`,
    },
  };
}

function parseBody(body: string): Record<string, unknown> {
  if (body.trim() === "") {
    return {};
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw new SandboxError(
      "BadRequestException",
      400,
      "The request is rejected because the JSON could not be parsed.",
    );
  }
  if (!isRecord(parsed)) {
    throw new SandboxError(
      "BadRequestException",
      400,
      "The request is rejected because the body is not a JSON object.",
    );
  }
  return parsed;
}

/** A model list of 1–50 items. */
function list(value: unknown, name: string): unknown[] {
  if (!Array.isArray(value)) {
    throw badRequest(`${name} is required.`);
  }
  const items: unknown[] = value;
  if (items.length < 1 || items.length > MAX_IDS_PER_CALL) {
    throw badRequest(
      `${name} must contain between 1 and ${MAX_IDS_PER_CALL} items; ${items.length} items were given.`,
    );
  }
  return items;
}

/** A model list without length limits (`features`, `additionalConfiguration`). */
function unboundedList(value: unknown, name: string): unknown[] {
  if (!Array.isArray(value)) {
    throw badRequest(`${name} must be a list.`);
  }
  return value;
}

/** Model `AutoEnableMembers` / `OrgFeatureStatus`. */
function autoEnableValue(value: unknown, name: string): AutoEnable {
  if (value !== "NEW" && value !== "ALL" && value !== "NONE") {
    throw badRequest(`${name} must be one of NEW, ALL, NONE.`);
  }
  return value;
}

/** Model `AccountIds`: 1–50 account ids of 12 digits. */
function accountIds(value: unknown): string[] {
  return list(value, "accountIds").map(accountId12);
}

function accountId12(value: unknown): string {
  if (typeof value !== "string" || !ACCOUNT_ID.test(value)) {
    throw badRequest(`accountId must be 12 digits; got ${JSON.stringify(value)}.`);
  }
  return value;
}

function toUnprocessed(item: Unprocessed): unknown {
  return { accountId: item.accountId, result: item.result };
}

/** Pages a list with `maxResults` (1–50, default 50) and an opaque `nextToken`. */
function paginate(items: readonly unknown[], query: URLSearchParams, field: string): unknown {
  const rawMax = query.get("maxResults");
  const max = rawMax === null ? MAX_RESULTS : Number(rawMax);
  if (!Number.isInteger(max) || max < 1 || max > MAX_RESULTS) {
    throw badRequest(`maxResults must be between 1 and ${MAX_RESULTS}.`);
  }
  const token = query.get("nextToken");
  const start = token === null || token === "" ? 0 : decodeToken(token);
  const end = start + max;
  return {
    [field]: items.slice(start, end),
    nextToken: end < items.length ? Buffer.from(`offset:${end}`).toString("base64url") : undefined,
  };
}

function decodeToken(token: string): number {
  const match = /^offset:(\d+)$/.exec(Buffer.from(token, "base64url").toString("utf8"));
  if (match?.[1] === undefined) {
    throw badRequest("nextToken is not valid.");
  }
  return Number(match[1]);
}
