/**
 * STS on the wire: the Query protocol (`POST /`, form-encoded `Action=AssumeRole&Version=2011-06-15&…`,
 * XML answers), as botocore's `data/sts/2011-06-15/service-2.json` describes it.
 *
 * AssumeRole is decided as AWS decides it: the caller's identity policy must allow `sts:AssumeRole` on
 * the role (and `sts:SetSourceIdentity` when a SourceIdentity is set), and the role's trust policy must
 * allow the caller; the session may not outlast the role's MaxSessionDuration (one hour when a session
 * assumes a role: role chaining). The credentials it issues act as a session of that role, with the
 * role's policies narrowed by the session policy passed in `Policy`.
 */
import { randomUUID } from "node:crypto";
import type { ServerResponse } from "node:http";
import { SandboxError, type SandboxRequest } from "./http.ts";
import type { Authorizer, PolicyDocument, Principal } from "./iam.ts";
import type { Identities } from "./identity.ts";
import { deriveRandom, type Random, randomString } from "./random.ts";
import type { Organization } from "./scenario.ts";

const XMLNS = "https://sts.amazonaws.com/doc/2011-06-15/";
/** `arn:aws:iam::<account>:role/<path/><name>` */
const ROLE_ARN = /^arn:aws[a-z-]*:iam::(\d{12}):role\/(?:.*\/)?([\w+=,.@-]{1,64})$/;
/** Model `roleSessionNameType` / `sourceIdentityType`: 2–64 of `[\w+=,.@-]`. */
const SESSION_NAME = /^[\w+=,.@-]{2,64}$/;
/** Model `externalIdType`: 2–1224 of `[\w+=,.@:/-]`. */
const EXTERNAL_ID = /^[\w+=,.@:/-]{2,1224}$/;
/** A session policy may take up to 2,048 characters (IAM quotas; STS answers PackedPolicyTooLarge beyond). */
const MAX_SESSION_POLICY = 2048;
/** Role chaining: a session that assumes a role gets at most one hour (IAM User Guide). */
const CHAINED_MAX_SECONDS = 3600;

/** Whether a request is an STS Query call (form-encoded with an `Action`). */
export function isStsRequest(request: SandboxRequest): boolean {
  return (
    request.method === "POST" &&
    (request.headers["content-type"] ?? "").startsWith("application/x-www-form-urlencoded") &&
    new URLSearchParams(request.body).has("Action")
  );
}

export interface StsCall {
  readonly operation: string;
  readonly run: (caller: Principal) => Promise<string>;
}

export class StsService {
  private readonly keys: Random;
  private issued = 0;

  constructor(
    private readonly organization: Organization,
    private readonly identities: Identities,
    private readonly authorizer: Authorizer,
    seed: number,
    private readonly now: () => number,
  ) {
    this.keys = deriveRandom(seed, "sts-keys");
  }

  route(request: SandboxRequest): StsCall | SandboxError {
    const input = new URLSearchParams(request.body);
    const operation = input.get("Action") ?? "";
    if (operation === "AssumeRole")
      return { operation, run: (caller) => this.assumeRole(input, caller, request) };
    if (operation === "GetCallerIdentity")
      return { operation, run: async (caller) => this.callerIdentity(caller) };
    return new SandboxError(
      "InvalidAction",
      400,
      `Could not find operation ${operation} for version 2011-06-15`,
    );
  }

  /** STS's answer to a key it never issued. */
  invalidToken(): SandboxError {
    return new SandboxError(
      "InvalidClientTokenId",
      403,
      "The security token included in the request is invalid.",
    );
  }

  expiredToken(): SandboxError {
    return new SandboxError("ExpiredToken", 400, "The security token included in the request is expired");
  }

  /** GetCallerIdentity needs no permission: it answers for any valid credentials. */
  private callerIdentity(caller: Principal): string {
    return this.wrap(
      "GetCallerIdentity",
      `<UserId>${escapeXml(caller.userId)}</UserId><Account>${caller.accountId}</Account><Arn>${escapeXml(caller.arn)}</Arn>`,
    );
  }

  private async assumeRole(
    input: URLSearchParams,
    caller: Principal,
    request: SandboxRequest,
  ): Promise<string> {
    const roleArnText = input.get("RoleArn") ?? "";
    const sessionName = input.get("RoleSessionName") ?? "";
    const externalId = input.get("ExternalId") ?? undefined;
    const sourceIdentity = input.get("SourceIdentity") ?? undefined;
    const policyText = input.get("Policy") ?? undefined;
    const durationText = input.get("DurationSeconds");
    const duration = durationText === null ? 3600 : Number(durationText);
    const problems = [
      roleArnText.length < 20 || roleArnText.length > 2048
        ? `Value '${roleArnText}' at 'roleArn' failed to satisfy constraint: Member must have length between 20 and 2048`
        : undefined,
      !SESSION_NAME.test(sessionName)
        ? `Value '${sessionName}' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]* and have length between 2 and 64`
        : undefined,
      !Number.isInteger(duration) || duration < 900 || duration > 43200
        ? `Value '${durationText}' at 'durationSeconds' failed to satisfy constraint: Member must have value between 900 and 43200`
        : undefined,
      externalId !== undefined && !EXTERNAL_ID.test(externalId)
        ? "Value at 'externalId' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@:\\/-]*"
        : undefined,
      sourceIdentity !== undefined && !SESSION_NAME.test(sourceIdentity)
        ? `Value '${sourceIdentity}' at 'sourceIdentity' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*`
        : undefined,
    ].filter((problem): problem is string => problem !== undefined);
    if (problems.length > 0) {
      throw new SandboxError(
        "ValidationError",
        400,
        `${problems.length} validation error${problems.length > 1 ? "s" : ""} detected: ${problems.join("; ")}`,
      );
    }
    const sessionPolicy = policyText === undefined ? undefined : parsePolicy(policyText);

    const match = ROLE_ARN.exec(roleArnText);
    const role = match ? this.identities.role(roleArnText) : undefined;
    const targetAccount = match?.[1] ?? "";
    const account = this.organization.get(targetAccount);
    const context = {
      "aws:RequestedRegion": request.region,
      "aws:ResourceAccount": targetAccount,
      "sts:RoleSessionName": sessionName,
      ...(externalId !== undefined && { "sts:ExternalId": externalId }),
      ...(sourceIdentity !== undefined && { "sts:SourceIdentity": sourceIdentity }),
      ...(this.identities.organizationOf(targetAccount) && {
        "aws:ResourceOrgID": this.identities.organizationOf(targetAccount) as string,
      }),
    };
    const actions = ["sts:AssumeRole", ...(sourceIdentity !== undefined ? ["sts:SetSourceIdentity"] : [])];
    for (const action of actions) {
      const decision = await this.authorizer.authorize({
        principal: caller,
        action,
        resource: roleArnText,
        resourceAccountId: targetAccount,
        // A role that does not exist trusts no one: AWS answers it like any other refusal.
        resourcePolicy: role?.trustPolicy ?? { Version: "2012-10-17", Statement: [] },
        context,
      });
      if (!decision.allowed) throw new SandboxError("AccessDenied", 403, decision.message);
    }
    // A suspended or closed account cannot be entered.
    if (!role || (account !== undefined && account.state !== "ACTIVE")) {
      throw new SandboxError(
        "AccessDenied",
        403,
        `User: ${caller.arn} is not authorized to perform: sts:AssumeRole on resource: ${roleArnText}`,
      );
    }
    const chained = caller.arn.includes(":assumed-role/");
    const maxSeconds = chained
      ? Math.min(CHAINED_MAX_SECONDS, role.maxSessionDurationSeconds)
      : role.maxSessionDurationSeconds;
    if (duration > maxSeconds) {
      throw new SandboxError(
        "ValidationError",
        400,
        chained
          ? "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining."
          : "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
      );
    }

    const accessKeyId = `ASIA${role.accountId}${String(++this.issued).padStart(4, "0")}`;
    const expiresAt = this.now() + duration * 1000;
    this.identities.registerSession(accessKeyId, {
      accountId: role.accountId,
      arn: `arn:aws:sts::${role.accountId}:assumed-role/${role.name}/${sessionName}`,
      principalArn: role.arn,
      userId: `AROA${role.accountId}:${sessionName}`,
      policies: role.policies,
      sessionPolicy,
      sourceIdentity,
      organizationId: this.identities.organizationOf(role.accountId),
      expiresAt,
    });
    const secret = randomString(
      this.keys,
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
      40,
    );
    const packed =
      policyText === undefined
        ? ""
        : `<PackedPolicySize>${Math.ceil((policyText.length / MAX_SESSION_POLICY) * 100)}</PackedPolicySize>`;
    return this.wrap(
      "AssumeRole",
      `<Credentials><AccessKeyId>${accessKeyId}</AccessKeyId><SecretAccessKey>${secret}</SecretAccessKey>` +
        `<SessionToken>sandbox-${secret}</SessionToken><Expiration>${new Date(expiresAt).toISOString()}</Expiration></Credentials>` +
        `<AssumedRoleUser><AssumedRoleId>AROA${role.accountId}:${escapeXml(sessionName)}</AssumedRoleId>` +
        `<Arn>arn:aws:sts::${role.accountId}:assumed-role/${role.name}/${escapeXml(sessionName)}</Arn></AssumedRoleUser>` +
        packed +
        (sourceIdentity === undefined ? "" : `<SourceIdentity>${escapeXml(sourceIdentity)}</SourceIdentity>`),
    );
  }

  private wrap(operation: string, result: string): string {
    return `<${operation}Response xmlns="${XMLNS}"><${operation}Result>${result}</${operation}Result><ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></${operation}Response>`;
  }

  writeResult(res: ServerResponse, output: string): void {
    res.writeHead(200, { "content-type": "text/xml", "x-amzn-requestid": randomUUID() });
    res.end(output);
  }

  writeError(res: ServerResponse, error: SandboxError): void {
    const type = error.status >= 500 ? "Receiver" : "Sender";
    res.writeHead(error.status, { "content-type": "text/xml", "x-amzn-requestid": randomUUID() });
    res.end(
      `<ErrorResponse xmlns="${XMLNS}"><Error><Type>${type}</Type><Code>${error.code}</Code><Message>${escapeXml(error.message)}</Message></Error><RequestId>${randomUUID()}</RequestId></ErrorResponse>`,
    );
  }
}

/** A session policy: JSON, within the size STS accepts. */
function parsePolicy(text: string): PolicyDocument {
  if (text.replace(/\s+/g, "").length > MAX_SESSION_POLICY) {
    throw new SandboxError(
      "PackedPolicyTooLarge",
      400,
      "Packed policy consumes more than 100% of the allotted space for inline session policies.",
    );
  }
  try {
    const policy = JSON.parse(text) as PolicyDocument;
    if (!policy || typeof policy !== "object" || !("Statement" in policy)) throw new Error("no Statement");
    return policy;
  } catch {
    throw new SandboxError("MalformedPolicyDocument", 400, "The policy is not in the valid JSON format.");
  }
}

function escapeXml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}
