/**
 * An oracle for AWS wire traffic, built from botocore's API models (`data/<service>/<version>/service-2.json.gz`:
 * written by AWS, not by this project). It maps one raw request or response onto its operation's shapes as
 * the model's protocol lays them out (`rest-json`, `json` 1.1, `query` with XML answers) and lists every
 * departure; the shape checks themselves are in aws-shapes.ts.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
// The SDK's own XML reader (the STS client parses answers with it): already installed, no new dependency.
import { parseXML } from "@aws-sdk/xml-builder";
import { type Ctx, check, checkStructure, isObject, type Model, type Operation, show } from "./aws-shapes.ts";

export { type Model, skippedPatterns } from "./aws-shapes.ts";

/** What the oracle reads of an exchange; the sandbox's `Exchange` fits it. */
export interface WireRequest {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: Readonly<Record<string, string | undefined>>;
  readonly body: string;
}
export interface WireExchange {
  readonly request: WireRequest;
  readonly status: number;
  readonly headers: Readonly<Record<string, string | undefined>>;
  readonly body: string;
}

/**
 * Errors any AWS service may return though no model lists them, by the HTTP statuses the "Common Errors"
 * page of the AWS API references gives: the current page (e.g.
 * https://docs.aws.amazon.com/awsconsolehelpdocs/latest/gsg/common-errors.html) and the older one still
 * published for query services (e.g. https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/CommonErrors.html),
 * which says 400 where the newer says 401 or 403. A service's own throttling code (Organizations'
 * `TooManyRequestsException`) counts only where that operation's model lists it.
 */
const COMMON_ERRORS = new Map<string, number[]>();
for (const [status, codes] of Object.entries({
  400: "AccessDeniedException IncompleteSignature InvalidAction InvalidParameterCombination InvalidParameterValue InvalidQueryParameter MalformedHttpRequestException MissingAction MissingParameter NotAuthorized RequestAbortedException RequestExpired ThrottlingException ValidationError",
  401: "NotAuthorized",
  403: "AccessDeniedException ExpiredTokenException IncompleteSignature InvalidClientTokenId MissingAuthenticationToken OptInRequired UnrecognizedClientException",
  404: "MalformedQueryString UnknownOperationException",
  408: "RequestTimeoutException",
  413: "RequestEntityTooLargeException",
  500: "InternalFailure",
  503: "ServiceUnavailable",
})) {
  for (const code of codes.split(" "))
    COMMON_ERRORS.set(code, [...(COMMON_ERRORS.get(code) ?? []), Number(status)]);
}
/**
 * Errors a service is documented to answer although its model does not list them, by endpoint prefix,
 * each with its source:
 * - STS `AccessDenied` (403) for a refused AssumeRole: IAM User Guide, "Troubleshoot access denied error
 *   messages", and real answers (e.g. amzn/selling-partner-api-models#891: "Status Code: 403; Error Code:
 *   AccessDenied").
 * - GuardDuty `TooManyRequestsException` (429): GuardDuty answers through API Gateway (its responses carry
 *   `x-amz-apigw-id`, boto/boto3#3890), whose throttling answer is HTTP 429 Too Many Requests (API
 *   Gateway Developer Guide, "Throttle requests to your REST APIs").
 */
const DOCUMENTED_ERRORS: Readonly<Record<string, Readonly<Record<string, readonly number[]>>>> = {
  sts: { AccessDenied: [403] },
  guardduty: { TooManyRequestsException: [429] },
};
/** Body fields that may carry a JSON error's code (Smithy restJson1 and awsJson1_1 error serialization). */
const JSON_ERROR_KEYS = ["__type", "code"];

let dataDir: string | undefined;
/** botocore's `data` folder: `$BOTOCORE_DATA`, else asked of the installed botocore, once. */
export function botocoreData(): string {
  const script = "import botocore,os;print(os.path.dirname(botocore.__file__))";
  dataDir ??=
    process.env.BOTOCORE_DATA ??
    join(execFileSync("python3", ["-c", script], { encoding: "utf8" }).trim(), "data");
  return dataDir;
}

/** The newest model of `service` (`guardduty`, `organizations`, `sts`…), with its paginators. */
export function loadModel(service: string): Model {
  const dir = join(botocoreData(), service);
  const version = join(dir, readdirSync(dir).sort().at(-1) ?? "");
  const model = JSON.parse(gunzipSync(readFileSync(join(version, "service-2.json.gz"))).toString("utf8"));
  const pages = join(version, "paginators-1.json");
  return {
    ...model,
    paginators: existsSync(pages) ? JSON.parse(readFileSync(pages, "utf8")).pagination : {},
  };
}

function parseJson(body: string, what: string, problems: string[]): Record<string, unknown> {
  if (body.trim() === "") return {};
  try {
    const parsed: unknown = JSON.parse(body);
    if (isObject(parsed)) return parsed;
  } catch {}
  problems.push(`${what} is not a JSON object: ${show(body)}`);
  return {};
}

/** A JSON body against the operation's input or output shape, or empty when the model has none. */
function jsonBody(c: Ctx, shape: string | undefined, body: Record<string, unknown>, what: string): void {
  if (shape !== undefined) checkStructure(c, shape, body, what);
  else if (Object.keys(body).length > 0)
    c.problems.push(`${what} must be empty: the model has no shape for it`);
}

/** rest-json input: members by `location` (URI label, query string, header), the rest in a JSON body. */
function restJsonRequest(c: Ctx, op: Operation, request: WireRequest): void {
  const [template = "", literal = ""] = op.http.requestUri.split("?");
  // `{Label}` is one path segment, `{Label+}` (greedy) the rest of the path.
  const labels: string[] = [];
  const source = template
    .split(/\{(\w+\+?)\}/)
    .map((part, i) => {
      if (i % 2 === 0) return part.replace(/[.*+?^$()|[\]\\{}]/g, "\\$&");
      labels.push(part.replace("+", ""));
      return part.endsWith("+") ? "(.+)" : "([^/]+)";
    })
    .join("");
  const match = new RegExp(`^${source}$`).exec(request.path);
  if (match === null) c.problems.push(`request path ${request.path} does not match ${template}`);
  const input = op.input ? c.model.shapes[op.input.shape] : undefined;
  const located = Object.entries(input?.members ?? {}).filter(([, ref]) => ref.location !== undefined);
  for (const [name, ref] of located) {
    if (ref.location === "uri" && match === null) continue; // already reported as a path mismatch
    const wire = ref.locationName ?? name;
    const query =
      c.model.shapes[ref.shape]?.type === "list" ? request.query.getAll(wire) : request.query.get(wire);
    const value =
      ref.location === "uri"
        ? match?.[labels.indexOf(wire) + 1]
        : ref.location === "querystring"
          ? (query ?? undefined)
          : ref.location === "header"
            ? request.headers[wire.toLowerCase()]
            : undefined;
    const where = `request ${ref.location} ${wire}`;
    if (value !== undefined && !(Array.isArray(value) && value.length === 0)) {
      // Smithy: URI and query timestamps are ISO 8601, header timestamps HTTP dates.
      check(
        { ...c, mode: "text", timestamps: ref.location === "header" ? "rfc822" : "iso8601" },
        ref,
        value,
        where,
      );
    } else if (input?.required?.includes(name)) c.problems.push(`${where}: missing required member ${name}`);
  }
  const known = new Set(new URLSearchParams(literal).keys());
  for (const [name, ref] of located) if (ref.location === "querystring") known.add(ref.locationName ?? name);
  for (const key of new Set(request.query.keys()))
    if (!known.has(key)) c.problems.push(`request: unknown query parameter ${key}`);
  jsonBody(c, op.input?.shape, parseJson(request.body, "request body", c.problems), "request body");
}

/** Splits `A.member.1.B=x` form keys into nested objects, as XML nests elements; skips Action and Version. */
function formTree(form: URLSearchParams): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  for (const [key, value] of form) {
    if (key === "Action" || key === "Version") continue;
    const parts = key.split(".");
    let node = root;
    for (const part of parts.slice(0, -1)) {
      if (!isObject(node[part])) node[part] = {};
      node = node[part] as Record<string, unknown>;
    }
    node[parts.at(-1) ?? ""] = value;
  }
  return root;
}

/** Problems of a request to `operation`, per the model's protocol; empty when it conforms. */
export function validateRequest(model: Model, operation: string, request: WireRequest): string[] {
  const op = model.operations[operation];
  if (op === undefined) return [`${operation} is not an operation of ${model.metadata.serviceId}`];
  const c: Ctx = { model, mode: "json", timestamps: "unixTimestamp", problems: [] };
  const { protocol, targetPrefix, apiVersion } = model.metadata;
  if (request.method !== op.http.method)
    c.problems.push(`method ${request.method}, the model says ${op.http.method}`);
  if (protocol === "rest-json") restJsonRequest(c, op, request);
  else if (protocol === "json") {
    const target = `${targetPrefix}.${operation}`;
    const sent = request.headers["x-amz-target"];
    if (sent !== target) c.problems.push(`X-Amz-Target ${sent}, expected ${target}`);
    jsonBody(c, op.input?.shape, parseJson(request.body, "request body", c.problems), "request");
  } else if (protocol === "query") {
    const form = new URLSearchParams(request.body);
    if (form.get("Action") !== operation)
      c.problems.push(`Action=${form.get("Action")}, expected ${operation}`);
    if (form.get("Version") !== apiVersion)
      c.problems.push(`Version=${form.get("Version")}, expected ${apiVersion}`);
    jsonBody({ ...c, mode: "text", timestamps: "iso8601" }, op.input?.shape, formTree(form), "request");
  } else c.problems.push(`the oracle does not know the protocol ${protocol}`);
  return c.problems;
}

/**
 * An error's code and HTTP status against the operation's modeled errors (the shape name; in query its
 * `error.code` when given) and the common ones; returns the modeled shape, to check the error's members with.
 */
function checkError(c: Ctx, operation: string, code: string | undefined, status: number): string | undefined {
  const op = c.model.operations[operation] as Operation;
  if (!code) return void c.problems.push(`error response (HTTP ${status}) carries no error code`);
  for (const { shape: name } of op.errors ?? []) {
    const shape = c.model.shapes[name];
    // query puts `error.code` on the wire when the model gives one; JSON protocols send the shape name.
    const wire = c.model.metadata.protocol === "query" ? [shape?.error?.code ?? name] : [name];
    if (shape === undefined || !wire.includes(code)) continue;
    // Without `httpStatusCode`, Smithy protocols answer client errors with 400 and server faults with 5xx.
    const expected = shape.error?.httpStatusCode;
    if (expected !== undefined ? status !== expected : shape.fault ? status < 500 : status !== 400)
      c.problems.push(
        `${code}: HTTP ${status}, the model says ${expected ?? (shape.fault ? "5xx (fault)" : 400)}`,
      );
    return name;
  }
  const common = COMMON_ERRORS.get(code) ?? DOCUMENTED_ERRORS[c.model.metadata.endpointPrefix ?? ""]?.[code];
  const modeled = (op.errors ?? []).map((e) => c.model.shapes[e.shape]?.error?.code ?? e.shape);
  if (common === undefined)
    c.problems.push(
      `error code ${code} is neither an error of ${operation} (${modeled.join(", ")}) nor a common one`,
    );
  else if (!common.includes(status))
    c.problems.push(`common error ${code}: HTTP ${status}, documented as ${common.join(" or ")}`);
  return undefined;
}

/** query: `<OpResponse><OpResult>…` or `<ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/>`. */
function queryResponse(c: Ctx, operation: string, exchange: WireExchange, success: boolean): void {
  const op = c.model.operations[operation] as Operation;
  let doc: Record<string, unknown>;
  try {
    doc = parseXML(exchange.body);
  } catch (error) {
    return void c.problems.push(`response is not XML: ${String(error)}`);
  }
  if (success) {
    const root = doc[`${operation}Response`];
    const wrapper = op.output?.resultWrapper ?? `${operation}Result`;
    if (!isObject(root))
      return void c.problems.push(`root element <${Object.keys(doc)[0]}>, expected <${operation}Response>`);
    for (const key of Object.keys(root))
      if (key !== wrapper && key !== "ResponseMetadata" && !key.startsWith("xmlns"))
        c.problems.push(`unknown element <${key}> in <${operation}Response>`);
    const result = root[wrapper];
    if (op.output && result === undefined) c.problems.push(`missing <${wrapper}> in <${operation}Response>`);
    else if (op.output) checkStructure(c, op.output.shape, result === "" ? {} : result, `<${wrapper}>`);
    return;
  }
  const envelope = doc.ErrorResponse;
  const error = isObject(envelope) ? envelope.Error : undefined;
  if (!isObject(envelope) || !isObject(error))
    return void c.problems.push(`error body is not <ErrorResponse><Error>…: ${show(exchange.body)}`);
  const type = exchange.status >= 500 ? "Receiver" : "Sender";
  if (error.Type !== type) c.problems.push(`<Type>${show(error.Type)}</Type>, expected ${type}`);
  if (typeof envelope.RequestId !== "string" || envelope.RequestId === "")
    c.problems.push("missing <RequestId>");
  const code = typeof error.Code === "string" ? error.Code : undefined;
  const shape = checkError(c, operation, code, exchange.status);
  if (shape) checkStructure(c, shape, error, "<Error>", ["Type", "Code", "Message"]);
}

/** Problems of the response in `exchange` to `operation`, per the model's protocol; empty when it conforms. */
export function validateResponse(model: Model, operation: string, exchange: WireExchange): string[] {
  const op = model.operations[operation];
  if (op === undefined) return [`${operation} is not an operation of ${model.metadata.serviceId}`];
  const c: Ctx = { model, mode: "json", timestamps: "unixTimestamp", problems: [] };
  const success = exchange.status >= 200 && exchange.status < 300;
  if (success && exchange.status !== (op.http.responseCode ?? 200))
    c.problems.push(`HTTP ${exchange.status}, the model says ${op.http.responseCode ?? 200}`);
  if (model.metadata.protocol === "query") {
    queryResponse({ ...c, mode: "text", timestamps: "iso8601" }, operation, exchange, success);
    return c.problems;
  }
  const body = parseJson(exchange.body, "response body", c.problems);
  if (success) {
    // Output members bound to headers are not checked: none of the operations served here has one.
    jsonBody(c, op.output?.shape, body, "response");
    // A paginator hands the output token back verbatim as the next input token, so it must be a string.
    for (const token of [model.paginators[operation]?.output_token ?? []].flat()) {
      const ref = op.output && model.shapes[op.output.shape]?.members?.[token];
      const value = body[ref?.locationName ?? token];
      if (value !== undefined && typeof value !== "string")
        c.problems.push(`next token ${token} is ${show(value)}`);
    }
    return c.problems;
  }
  // rest-json: the `x-amzn-errortype` header first, its value before any `:`; json 1.1: `__type`. Either may
  // carry a `namespace#` prefix.
  const header = exchange.headers["x-amzn-errortype"];
  const json = model.metadata.protocol === "json";
  const raw = json ? (body.__type ?? body.code ?? header) : (header ?? body.code ?? body.__type);
  const code = typeof raw === "string" ? raw.split(":")[0]?.split("#").at(-1) : undefined;
  const shape = checkError(c, operation, code, exchange.status);
  if (shape) checkStructure(c, shape, body, "error body", JSON_ERROR_KEYS);
  return c.problems;
}
