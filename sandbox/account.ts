/**
 * The AWS Account Management API on the wire: REST-JSON (`POST /listRegions`, `POST /getRegionOptStatus`),
 * members in a JSON body, errors with `x-amzn-errortype` and a lower-case `message`. Shapes, limits and
 * statuses from botocore `data/account/2021-02-01/service-2.json`. Only the region opt-in reads the
 * project makes are implemented; an account's opt-in regions come from the scenario
 * (`enabledOptInRegions`, and `Sandbox.enableRegion` later).
 */
import type { ServerResponse } from "node:http";
import { OPT_IN_REGIONS } from "../shared/regions.ts";
import {
  isRecord,
  jsonAuthErrors,
  SandboxError,
  type SandboxRequest,
  type ServiceCall,
  writeJson,
} from "./http.ts";
import type { Organization } from "./scenario.ts";

/** restJson1 answers authorization and credential errors with HTTP 403. */
const AUTH_ERRORS = jsonAuthErrors(403);

/** The signing name of the Account Management API (model `metadata.signingName`). */
export const ACCOUNT_SIGNING_NAME = "account";

/** The commercial partition's regions (botocore `endpoints.json`); opt-in ones as `OPT_IN_REGIONS`. */
const REGIONS: readonly string[] = [
  "af-south-1",
  "ap-east-1",
  "ap-east-2",
  "ap-northeast-1",
  "ap-northeast-2",
  "ap-northeast-3",
  "ap-south-1",
  "ap-south-2",
  "ap-southeast-1",
  "ap-southeast-2",
  "ap-southeast-3",
  "ap-southeast-4",
  "ap-southeast-5",
  "ap-southeast-6",
  "ap-southeast-7",
  "ca-central-1",
  "ca-west-1",
  "eu-central-1",
  "eu-central-2",
  "eu-north-1",
  "eu-south-1",
  "eu-south-2",
  "eu-west-1",
  "eu-west-2",
  "eu-west-3",
  "il-central-1",
  "me-central-1",
  "me-south-1",
  "mx-central-1",
  "sa-east-1",
  "us-east-1",
  "us-east-2",
  "us-west-1",
  "us-west-2",
];
/** Model `RegionOptStatus`. */
const STATUSES: ReadonlySet<string> = new Set([
  "ENABLED",
  "ENABLING",
  "DISABLING",
  "DISABLED",
  "ENABLED_BY_DEFAULT",
]);
/** Model `ListRegionsRequestMaxResultsInteger`: 1–50. */
const MAX_RESULTS = 50;
const ACCOUNT_ID = /^\d{12}$/;
const CONTENT_TYPE = "application/json";
const OPERATIONS: Readonly<Record<string, string>> = {
  "/listRegions": "ListRegions",
  "/getRegionOptStatus": "GetRegionOptStatus",
};

/** Whether a request is signed for the Account Management API (its SigV4 scope's service). */
export function isAccountRequest(request: SandboxRequest): boolean {
  return request.service === ACCOUNT_SIGNING_NAME;
}

function invalid(name: string, message: string): SandboxError {
  return new SandboxError("ValidationException", 400, message, {
    reason: "fieldValidationFailed",
    fieldList: [{ name, message }],
  });
}

export class AccountService {
  readonly name = "account";

  constructor(private readonly organization: Organization) {}

  route(request: SandboxRequest, caller: string): ServiceCall | SandboxError {
    const operation = request.method === "POST" ? OPERATIONS[request.path] : undefined;
    if (operation === undefined)
      return new SandboxError(
        "UnknownOperationException",
        404,
        `The Account sandbox does not implement ${request.method} ${request.path}.`,
      );
    let input: Record<string, unknown>;
    try {
      input = parseBody(request.body);
    } catch (error) {
      if (error instanceof SandboxError) return error;
      throw error;
    }
    const target = input.AccountId;
    const org = this.organization;
    // Service Authorization Reference: `accountInOrganization` for a member named by id, else `account`.
    const resource =
      typeof target === "string" && target !== caller
        ? `arn:aws:account::${org.managementAccountId}:account/${org.id}/${target}`
        : `arn:aws:account::${caller}:account`;
    return {
      operation,
      action: `account:${operation}`,
      resource,
      run: () => {
        const accountId = this.target(target, caller);
        return operation === "ListRegions"
          ? this.listRegions(accountId, input)
          : this.getRegionOptStatus(accountId, input);
      },
    };
  }

  writeResult(res: ServerResponse, output: unknown): void {
    writeJson(res, 200, CONTENT_TYPE, output);
  }

  /** restJson1 errors: the code in `x-amzn-errortype`, the modeled members (`message`…) in the body. */
  writeError(res: ServerResponse, error: SandboxError): void {
    res.setHeader("x-amzn-errortype", error.code);
    writeJson(res, error.status, CONTENT_TYPE, { message: error.message, ...error.fields });
  }

  readonly accessDenied = AUTH_ERRORS.accessDenied;
  readonly unrecognizedClient = AUTH_ERRORS.unrecognizedClient;
  readonly expiredToken = AUTH_ERRORS.expiredToken;

  /**
   * The account a call is about (model `AccountId` documentation): the caller's own without one; a member
   * of the same organization only for its management account or a delegated administrator; never the
   * management account's own id from the management account.
   */
  private target(accountId: unknown, caller: string): string {
    if (accountId === undefined) return caller;
    if (typeof accountId !== "string" || !ACCOUNT_ID.test(accountId))
      throw invalid("AccountId", "AccountId must be a 12-digit account id.");
    const org = this.organization;
    if (accountId === caller && caller === org.managementAccountId)
      throw invalid("AccountId", "The management account can't specify its own AccountId.");
    if (accountId === caller) return caller;
    if (!org.canRead(caller) || org.get(accountId) === undefined)
      throw this.accessDenied("You don't have permissions to access this account.");
    return accountId;
  }

  private statusOf(accountId: string, region: string): string {
    if (!OPT_IN_REGIONS.has(region)) return "ENABLED_BY_DEFAULT";
    return this.organization.regionEnabled(accountId, region) ? "ENABLED" : "DISABLED";
  }

  /** Model `ListRegions`: optional `RegionOptStatusContains` filter, pages of 1–50, an opaque `NextToken`. */
  private listRegions(accountId: string, input: Record<string, unknown>): unknown {
    const filter = input.RegionOptStatusContains;
    if (
      filter !== undefined &&
      (!Array.isArray(filter) || filter.some((status) => typeof status !== "string" || !STATUSES.has(status)))
    )
      throw invalid("RegionOptStatusContains", "RegionOptStatusContains holds only RegionOptStatus values.");
    const max = input.MaxResults ?? MAX_RESULTS;
    if (typeof max !== "number" || !Number.isInteger(max) || max < 1 || max > MAX_RESULTS)
      throw invalid("MaxResults", `MaxResults must be between 1 and ${MAX_RESULTS}.`);
    const start = decodeToken(input.NextToken);
    const regions = REGIONS.map((RegionName) => ({
      RegionName,
      RegionOptStatus: this.statusOf(accountId, RegionName),
    })).filter(({ RegionOptStatus }) => filter === undefined || filter.includes(RegionOptStatus));
    const end = start + max;
    return {
      Regions: regions.slice(start, end),
      NextToken: end < regions.length ? Buffer.from(`offset:${end}`).toString("base64url") : undefined,
    };
  }

  /** Model `GetRegionOptStatus`: `RegionName` (1–50 characters) required. */
  private getRegionOptStatus(accountId: string, input: Record<string, unknown>): unknown {
    const region = input.RegionName;
    if (typeof region !== "string" || region.length < 1 || region.length > 50)
      throw invalid("RegionName", "RegionName is required, 1 to 50 characters.");
    if (!REGIONS.includes(region))
      throw new SandboxError("ValidationException", 400, `${region} is not a valid region.`, {
        reason: "invalidRegionOptTarget",
      });
    return { RegionName: region, RegionOptStatus: this.statusOf(accountId, region) };
  }
}

function parseBody(body: string): Record<string, unknown> {
  let parsed: unknown = {};
  try {
    parsed = body.trim() === "" ? {} : JSON.parse(body);
  } catch {
    throw invalid("body", "The request body is not valid JSON.");
  }
  if (!isRecord(parsed)) throw invalid("body", "The request body is not a JSON object.");
  return parsed;
}

function decodeToken(token: unknown): number {
  if (token === undefined || token === null || token === "") return 0;
  const match =
    typeof token === "string"
      ? /^offset:(\d+)$/.exec(Buffer.from(token, "base64url").toString("utf8"))
      : null;
  if (match?.[1] === undefined) throw invalid("NextToken", "The NextToken is not one this API returned.");
  return Number(match[1]);
}
