/**
 * STS on the wire: the Query protocol (`POST /`, form-encoded `Action=AssumeRole&Version=2011-06-15&…`,
 * XML answers), as botocore's `data/sts/2011-06-15/service-2.json` describes it. AssumeRole into a
 * member account's role issues temporary credentials whose access key the sandbox then maps to that
 * account, so the member-side GuardDuty calls signed with them act as the member.
 */
import { randomUUID } from "node:crypto";
import type { ServerResponse } from "node:http";
import { SandboxError, type SandboxRequest, type ServiceCall } from "./http.ts";
import { deriveRandom, type Random, randomString } from "./random.ts";
import type { Organization, ScenarioOptions } from "./scenario.ts";

const XMLNS = "https://sts.amazonaws.com/doc/2011-06-15/";
/** `arn:aws:iam::<account>:role/<path/><name>` */
const ROLE_ARN = /^arn:aws[a-z-]*:iam::(\d{12}):role\/(?:.*\/)?([\w+=,.@-]{1,64})$/;
const DEFAULT_ROLE = "OrganizationAccountAccessRole";

/** Whether a request is an STS Query call (form-encoded with an `Action`). */
export function isStsRequest(request: SandboxRequest): boolean {
  return (
    request.method === "POST" &&
    (request.headers["content-type"] ?? "").startsWith("application/x-www-form-urlencoded") &&
    new URLSearchParams(request.body).has("Action")
  );
}

export class StsService {
  private readonly keys: Random;
  private issued = 0;

  constructor(
    private readonly organization: Organization,
    private readonly scenario: ScenarioOptions,
    seed: number,
    private readonly register: (accessKeyId: string, accountId: string) => void,
  ) {
    this.keys = deriveRandom(seed, "sts-keys");
  }

  route(request: SandboxRequest, _caller: string): ServiceCall | SandboxError {
    const input = new URLSearchParams(request.body);
    const operation = input.get("Action") ?? "";
    if (operation !== "AssumeRole") {
      return new SandboxError("InvalidAction", 400, `The STS sandbox does not implement ${operation}.`);
    }
    return { operation, run: () => this.assumeRole(input) };
  }

  private assumeRole(input: URLSearchParams): string {
    const roleArn = input.get("RoleArn") ?? "";
    const sessionName = input.get("RoleSessionName") ?? "";
    const match = ROLE_ARN.exec(roleArn);
    if (!match || !/^[\w+=,.@-]{2,64}$/.test(sessionName)) {
      throw new SandboxError(
        "ValidationError",
        400,
        "1 validation error detected: RoleArn or RoleSessionName is invalid",
      );
    }
    const [, accountId = "", roleName] = match;
    const account = this.organization.get(accountId);
    const denied =
      account === undefined ||
      account.state !== "ACTIVE" ||
      roleName !== (this.scenario.memberRoleName ?? DEFAULT_ROLE) ||
      (this.scenario.memberRoleExternalId ?? null) !== (input.get("ExternalId") ?? null) ||
      (this.scenario.unassumableAccounts ?? []).includes(accountId);
    if (denied) {
      throw new SandboxError(
        "AccessDenied",
        403,
        `User: arn:aws:sts::${this.organization.administratorAccountId}:assumed-role/onboard is not authorized to perform: sts:AssumeRole on resource: ${roleArn}`,
      );
    }
    const accessKeyId = `ASIA${accountId}${String(++this.issued).padStart(4, "0")}`;
    this.register(accessKeyId, accountId);
    const secret = randomString(
      this.keys,
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
      40,
    );
    const expiration = new Date(
      Date.now() + Number(input.get("DurationSeconds") ?? 3600) * 1000,
    ).toISOString();
    return `<AssumeRoleResponse xmlns="${XMLNS}"><AssumeRoleResult><Credentials><AccessKeyId>${accessKeyId}</AccessKeyId><SecretAccessKey>${secret}</SecretAccessKey><SessionToken>sandbox-${secret}</SessionToken><Expiration>${expiration}</Expiration></Credentials><AssumedRoleUser><AssumedRoleId>AROA${accountId}:${sessionName}</AssumedRoleId><Arn>arn:aws:sts::${accountId}:assumed-role/${roleName}/${sessionName}</Arn></AssumedRoleUser></AssumeRoleResult><ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></AssumeRoleResponse>`;
  }

  writeResult(res: ServerResponse, output: unknown): void {
    res.writeHead(200, { "content-type": "text/xml" });
    res.end(String(output));
  }

  writeError(res: ServerResponse, error: SandboxError): void {
    const type = error.status >= 500 ? "Receiver" : "Sender";
    res.writeHead(error.status, { "content-type": "text/xml" });
    res.end(
      `<ErrorResponse xmlns="${XMLNS}"><Error><Type>${type}</Type><Code>${error.code}</Code><Message>${escapeXml(error.message)}</Message></Error><RequestId>${randomUUID()}</RequestId></ErrorResponse>`,
    );
  }
}

function escapeXml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}
