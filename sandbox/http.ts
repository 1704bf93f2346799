/**
 * Wire-level helpers shared by both services: reading a request, identifying the caller, writing JSON.
 *
 * Real clients only differ from production by the endpoint, so everything the sandbox needs to know
 * about the caller comes from what a signed AWS request carries anyway: the SigV4 credential scope
 * (`Credential=AKID/20261126/us-west-2/guardduty/aws4_request`) gives the access key id and the region.
 * Signatures are not verified.
 */
import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";

/** The region assumed when a request carries no SigV4 credential scope (e.g. an unsigned curl). */
export const DEFAULT_REGION = "us-east-1";

/** A request as the service handlers see it. */
export interface SandboxRequest {
  readonly method: string;
  /** The decoded path without the query string, e.g. `/detector/abc/member`. */
  readonly path: string;
  readonly query: URLSearchParams;
  /** Lower-cased header names. */
  readonly headers: Readonly<Record<string, string | undefined>>;
  readonly body: string;
  /** From the SigV4 credential scope; `DEFAULT_REGION` when unsigned. */
  readonly region: string;
  /** From the SigV4 credential scope; undefined when unsigned. */
  readonly accessKeyId: string | undefined;
  /** The signing name of the SigV4 credential scope (`guardduty`, `account`…); undefined when unsigned. */
  readonly service?: string;
}

/**
 * A service error to put on the wire. Each service module maps it to its protocol's error format.
 * `fields` are extra members of the error structure (e.g. Organizations `Reason`).
 */
export class SandboxError extends Error {
  constructor(
    readonly code: string,
    readonly status: number,
    message: string,
    readonly fields: Readonly<Record<string, unknown>> = {},
  ) {
    super(message);
    this.name = code;
  }
}

/** Parses `Credential=AKID/date/region/service/aws4_request` from a header or presigned query. */
export function credentialScope(
  authorization: string | undefined,
  query: URLSearchParams,
): { accessKeyId?: string; region?: string; service?: string } {
  const credential = /Credential=([^,\s]+)/.exec(authorization ?? "")?.[1] ?? query.get("X-Amz-Credential");
  if (!credential) {
    return {};
  }
  const [accessKeyId, , region, service] = credential.split("/");
  return {
    accessKeyId: accessKeyId || undefined,
    region: region || undefined,
    service: service || undefined,
  };
}

/** Reads the whole request into a SandboxRequest. */
export async function readRequest(req: IncomingMessage): Promise<SandboxRequest> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) {
    chunks.push(chunk as Buffer);
  }
  const url = new URL(req.url ?? "/", "http://sandbox.invalid");
  const headers: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    headers[name.toLowerCase()] = Array.isArray(value) ? value.join(",") : value;
  }
  const scope = credentialScope(headers.authorization, url.searchParams);
  return {
    method: (req.method ?? "GET").toUpperCase(),
    path: decodeURIComponent(url.pathname),
    query: url.searchParams,
    headers,
    body: Buffer.concat(chunks).toString("utf8"),
    region: scope.region ?? DEFAULT_REGION,
    accessKeyId: scope.accessKeyId,
    service: scope.service,
  };
}

/** Writes a JSON response with the request id header every AWS response carries. */
export function writeJson(
  res: ServerResponse,
  status: number,
  contentType: string,
  body: unknown,
  headers: Readonly<Record<string, string>> = {},
): void {
  const payload = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": contentType,
    "content-length": Buffer.byteLength(payload),
    "x-amzn-requestid": randomUUID(),
    ...headers,
  });
  res.end(payload);
}

/** Resolves after `ms` milliseconds (no timer at all for 0). */
export function sleep(ms: number): Promise<void> {
  return ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : Promise.resolve();
}

/** Narrows a parsed JSON value to a plain object. */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** An IAM permission a call needs: the action, and the resource it acts on (`*` when it has no type). */
export interface Permission {
  readonly action: string;
  readonly resource?: string;
  /** Condition keys of this permission beyond the request's (e.g. `iam:AWSServiceName`). */
  readonly context?: Readonly<Record<string, string>>;
}

/** One resolved call: its operation name (for counters and faults), what IAM must allow, and the work. */
export interface ServiceCall extends Permission {
  readonly operation: string;
  /** Permissions the call needs besides its own action (a service-linked role it creates, say). */
  readonly alsoNeeds?: () => readonly Permission[];
  readonly run: () => unknown;
}

/** What the server needs from a service module to run a call and answer in that service's protocol. */
export interface WireService {
  readonly name: "guardduty" | "organizations";
  /** Resolves the operation; an unknown one is answered with the returned error. */
  route(request: SandboxRequest, callerAccountId: string): ServiceCall | SandboxError;
  writeResult(res: ServerResponse, output: unknown): void;
  writeError(res: ServerResponse, error: SandboxError): void;
  /** The service's throttling error (GuardDuty 429, Organizations 400). */
  throttlingError(): SandboxError;
  /** The service's internal error (HTTP 500). */
  serverError(): SandboxError;
  /** IAM refused the call: the service's AccessDeniedException, with IAM's message. */
  accessDenied(message: string): SandboxError;
  /** The request is signed with a key AWS does not know (or for a region the account has not enabled). */
  unrecognizedClient(): SandboxError;
  /** The request is signed with temporary credentials that have expired. */
  expiredToken(): SandboxError;
}

/**
 * The authorization and credential errors of a JSON protocol (restJson1: HTTP 403; awsJson1.1: 400),
 * as AWS words them: one copy for every JSON service of the sandbox.
 */
export function jsonAuthErrors(status: 400 | 403) {
  return {
    accessDenied: (message: string) => new SandboxError("AccessDeniedException", status, message),
    unrecognizedClient: () =>
      new SandboxError(
        "UnrecognizedClientException",
        status,
        "The security token included in the request is invalid.",
      ),
    expiredToken: () =>
      new SandboxError(
        "ExpiredTokenException",
        status,
        "The security token included in the request is expired",
      ),
  };
}
