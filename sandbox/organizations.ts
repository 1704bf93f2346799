/**
 * Organizations on the wire: JSON 1.1 (`awsJson1_1`), i.e. `POST /` with
 * `X-Amz-Target: AWSOrganizationsV20161128.<Operation>`, PascalCase members, timestamps as epoch seconds,
 * and errors as HTTP 400 (500 for faults) with `{"__type": "<Code>", "Message": "..."}`.
 * Shapes and limits from botocore `data/organizations/2016-11-28/service-2.json`.
 */
import type { ServerResponse } from "node:http";
import {
  isRecord,
  jsonAuthErrors,
  SandboxError,
  type SandboxRequest,
  type ServiceCall,
  type WireService,
  writeJson,
} from "./http.ts";
import type { OrgAccount, Organization } from "./scenario.ts";

/** awsJson1.1 answers authorization and credential errors with HTTP 400. */
const AUTH_ERRORS = jsonAuthErrors(400);

/** A delegated administrator a service designated itself (GuardDuty's EnableOrganizationAdminAccount). */
export interface ServiceDelegation {
  readonly accountId: string;
  /** Epoch ms; 0 when it was seeded. */
  readonly since: number;
}

/** The service principal GuardDuty's delegated administrators are registered for. */
export const GUARDDUTY_SERVICE_PRINCIPAL = "guardduty.amazonaws.com";
export const ORGANIZATIONS_TARGET_PREFIX = "AWSOrganizationsV20161128.";
const CONTENT_TYPE = "application/x-amz-json-1.1";
/** Model `ListAccounts.MaxResults`: 1–20; pages hold at most 20 accounts. */
const MAX_ACCOUNTS_PER_PAGE = 20;
const ACCOUNT_ID = /^\d{12}$/;
/** Operations that change the organization: the management account's alone. */
const WRITES: ReadonlySet<string> = new Set(["CloseAccount", "RemoveAccountFromOrganization"]);
/** The model's documentation of each error CloseAccount and RemoveAccountFromOrganization answer here. */
const LIFECYCLE_ERRORS: Readonly<Record<string, string>> = {
  AccountNotFoundException: "We can't find an account with the AccountId that you specified.",
  AccountAlreadyClosedException: "You attempted to close an account that is already closed.",
  MasterCannotLeaveOrganizationException: "You can't remove a management account from an organization.",
};

/** Whether a request is an Organizations call (JSON 1.1 target header) rather than GuardDuty REST. */
export function isOrganizationsRequest(request: SandboxRequest): boolean {
  return request.headers["x-amz-target"]?.startsWith(ORGANIZATIONS_TARGET_PREFIX) ?? false;
}

function invalidInput(reason: string, message: string): SandboxError {
  return new SandboxError("InvalidInputException", 400, message, { Reason: reason });
}

export class OrganizationsService implements WireService {
  readonly name = "organizations";
  private readonly handlers: Readonly<Record<string, (input: Record<string, unknown>) => unknown>>;

  constructor(
    private readonly organization: Organization,
    /** The delegated administrators a service principal designated through its own API. */
    private readonly serviceDelegations: (
      servicePrincipal: string,
    ) => readonly ServiceDelegation[] = () => [],
  ) {
    this.handlers = {
      DescribeAccount: (input) => this.describeAccount(input),
      ListAccounts: (input) => this.listAccounts(input),
      ListDelegatedAdministrators: (input) => this.listDelegatedAdministrators(input),
      DescribeOrganization: () => this.describeOrganization(),
      CloseAccount: (input) => this.lifecycle(input, (id) => this.organization.close(id)),
      RemoveAccountFromOrganization: (input) => this.lifecycle(input, (id) => this.organization.remove(id)),
    };
  }

  route(request: SandboxRequest, caller: string): ServiceCall | SandboxError {
    const operation = request.headers["x-amz-target"]?.slice(ORGANIZATIONS_TARGET_PREFIX.length) ?? "";
    const handler = Object.hasOwn(this.handlers, operation) ? this.handlers[operation] : undefined;
    if (request.method !== "POST" || handler === undefined) {
      return new SandboxError(
        "UnknownOperationException",
        400,
        `The Organizations sandbox does not implement ${operation || "this operation"}.`,
      );
    }
    const input = parseBody(request.body);
    // Service Authorization Reference: DescribeAccount acts on an account; the others have no resource type.
    const resource =
      operation === "DescribeAccount" && typeof input.AccountId === "string"
        ? this.accountArn(input.AccountId)
        : "*";
    return {
      operation,
      action: `organizations:${operation}`,
      resource,
      run: () => {
        // Reading the organization is for its management account and its delegated administrators.
        if (operation !== "DescribeOrganization" && !this.canRead(caller)) {
          throw this.accessDenied("You don't have permissions to access this resource.");
        }
        // Closing and removing accounts is the management account's alone (model documentation).
        if (WRITES.has(operation) && caller !== this.organization.managementAccountId) {
          throw this.accessDenied("You don't have permissions to access this resource.");
        }
        return handler(input);
      },
    };
  }

  writeResult(res: ServerResponse, output: unknown): void {
    writeJson(res, 200, CONTENT_TYPE, output);
  }

  writeError(res: ServerResponse, error: SandboxError): void {
    writeJson(res, error.status, CONTENT_TYPE, {
      __type: error.code,
      Message: error.message,
      ...error.fields,
    });
  }

  /** Organizations throttles with TooManyRequestsException on HTTP 400 (not 429). */
  throttlingError(): SandboxError {
    return new SandboxError(
      "TooManyRequestsException",
      400,
      "You have sent too many requests in too short a period of time. Try again later.",
      { Type: "Throttling" },
    );
  }

  serverError(): SandboxError {
    return new SandboxError(
      "ServiceException",
      500,
      "AWS Organizations can't complete your request because of an internal service error. Try again later.",
    );
  }

  /** JSON 1.1 errors without a modeled status are HTTP 400 (botocore organizations model). */
  readonly accessDenied = AUTH_ERRORS.accessDenied;
  readonly unrecognizedClient = AUTH_ERRORS.unrecognizedClient;
  readonly expiredToken = AUTH_ERRORS.expiredToken;

  /** The management account and every delegated administrator, seeded or designated since (Organizations User Guide). */
  private canRead(caller: string): boolean {
    return (
      this.organization.canRead(caller) ||
      this.serviceDelegations(GUARDDUTY_SERVICE_PRINCIPAL).some((d) => d.accountId === caller)
    );
  }

  /** Model `ListDelegatedAdministrators`: optional `ServicePrincipal` filter, pages of 1–20. */
  private listDelegatedAdministrators(input: Record<string, unknown>): unknown {
    const principal = input.ServicePrincipal;
    if (
      principal !== undefined &&
      (typeof principal !== "string" || principal.length < 1 || principal.length > 128)
    ) {
      throw invalidInput("INVALID_INPUT", "ServicePrincipal must be a string of 1 to 128 characters.");
    }
    const delegations = new Map<string, number>();
    const note = (accountId: string, since: number) =>
      delegations.set(accountId, Math.min(since, delegations.get(accountId) ?? Number.POSITIVE_INFINITY));
    for (const seeded of this.organization.delegatedAdministrators) {
      if (principal === undefined || seeded.servicePrincipal === principal) note(seeded.accountId, 0);
    }
    const principals = principal === undefined ? [GUARDDUTY_SERVICE_PRINCIPAL] : [principal];
    for (const servicePrincipal of principals) {
      for (const d of this.serviceDelegations(servicePrincipal)) note(d.accountId, d.since);
    }
    const administrators = [...delegations].flatMap(([accountId, since]) => {
      const account = this.organization.get(accountId);
      if (account === undefined) return [];
      const enabledAt = Math.max(since, account.joinedAt);
      return [{ ...(this.toAccount(account) as object), DelegationEnabledDate: enabledAt / 1000 }];
    });
    return this.page(administrators, input, "DelegatedAdministrators");
  }

  /**
   * CloseAccount and RemoveAccountFromOrganization: `AccountId` (12 digits) in, no output (the model
   * declares none: an empty JSON object). The sandbox emits no CloudTrail event for either: tests publish
   * the samples of events/lifecycle/ themselves.
   */
  private lifecycle(input: Record<string, unknown>, change: (id: string) => string | undefined): unknown {
    const id = input.AccountId;
    if (typeof id !== "string" || !ACCOUNT_ID.test(id)) {
      throw invalidInput("INVALID_PATTERN", "You provided a value that doesn't match the required pattern.");
    }
    const error = change(id);
    if (error !== undefined) throw new SandboxError(error, 400, LIFECYCLE_ERRORS[error] ?? error);
    return {};
  }

  private describeAccount(input: Record<string, unknown>): unknown {
    const id = input.AccountId;
    if (typeof id !== "string" || !ACCOUNT_ID.test(id)) {
      throw invalidInput("INVALID_PATTERN", "You provided a value that doesn't match the required pattern.");
    }
    const account = this.organization.get(id);
    if (account === undefined) {
      throw new SandboxError("AccountNotFoundException", 400, "You specified an account that doesn't exist.");
    }
    return { Account: this.toAccount(account) };
  }

  private listAccounts(input: Record<string, unknown>): unknown {
    return this.page(
      this.organization.list().map((account) => this.toAccount(account)),
      input,
      "Accounts",
    );
  }

  /** `MaxResults` 1–20 and an opaque `NextToken`, as the list operations page. */
  private page(items: readonly unknown[], input: Record<string, unknown>, field: string): unknown {
    const max = input.MaxResults ?? MAX_ACCOUNTS_PER_PAGE;
    if (typeof max !== "number" || !Number.isInteger(max) || max < 1 || max > MAX_ACCOUNTS_PER_PAGE) {
      throw invalidInput(
        max === 0 || (typeof max === "number" && max < 1) ? "MIN_VALUE_EXCEEDED" : "MAX_VALUE_EXCEEDED",
        `MaxResults must be between 1 and ${MAX_ACCOUNTS_PER_PAGE}.`,
      );
    }
    const start = decodeToken(input.NextToken);
    const end = start + max;
    return {
      [field]: items.slice(start, end),
      NextToken: end < items.length ? Buffer.from(`offset:${end}`).toString("base64url") : undefined,
    };
  }

  private describeOrganization(): unknown {
    const org = this.organization;
    const management = org.get(org.managementAccountId);
    return {
      Organization: {
        Id: org.id,
        Arn: `arn:aws:organizations::${org.managementAccountId}:organization/${org.id}`,
        FeatureSet: "ALL",
        MasterAccountArn: this.accountArn(org.managementAccountId),
        MasterAccountId: org.managementAccountId,
        MasterAccountEmail: management?.email,
        AvailablePolicyTypes: [{ Type: "SERVICE_CONTROL_POLICY", Status: "ENABLED" }],
      },
    };
  }

  /** Model `Account`; `JoinedTimestamp` is epoch seconds, as awsJson1_1 encodes timestamps. */
  private toAccount(account: OrgAccount): unknown {
    return {
      Id: account.id,
      Arn: this.accountArn(account.id),
      Email: account.email,
      Name: account.name,
      Status: account.status,
      State: account.state,
      JoinedMethod: account.joinedMethod,
      JoinedTimestamp: account.joinedAt / 1000,
    };
  }

  private accountArn(accountId: string): string {
    const org = this.organization;
    return `arn:aws:organizations::${org.managementAccountId}:account/${org.id}/${accountId}`;
  }
}

function parseBody(body: string): Record<string, unknown> {
  let parsed: unknown = {};
  try {
    parsed = body.trim() === "" ? {} : JSON.parse(body);
  } catch {
    throw new SandboxError("SerializationException", 400, "The request body is not valid JSON.");
  }
  if (!isRecord(parsed)) {
    throw new SandboxError("SerializationException", 400, "The request body is not a JSON object.");
  }
  return parsed;
}

function decodeToken(token: unknown): number {
  if (token === undefined || token === null || token === "") {
    return 0;
  }
  const match =
    typeof token === "string"
      ? /^offset:(\d+)$/.exec(Buffer.from(token, "base64url").toString("utf8"))
      : null;
  if (match?.[1] === undefined) {
    throw invalidInput(
      "INVALID_NEXT_TOKEN",
      "Get the value for the NextToken parameter from the response to a previous call of the operation.",
    );
  }
  return Number(match[1]);
}
