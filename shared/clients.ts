import { AccountClient } from "@aws-sdk/client-account";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { GuardDutyClient } from "@aws-sdk/client-guardduty";
import { OrganizationsClient } from "@aws-sdk/client-organizations";
import { SQSClient } from "@aws-sdk/client-sqs";
import { STSClient } from "@aws-sdk/client-sts";
import { isThrottling } from "./classify.ts";
import { ORGANIZATIONS_REGION } from "./organizations.ts";
import { ACCOUNT_REGION } from "./regions.ts";

/**
 * Every AWS client the project uses — the functions' and the operator tool's — is built here, once per
 * container or command, with an explicit retry mode, attempt budget and timeouts. Endpoints come from the
 * SDK's standard `AWS_ENDPOINT_URL_<SERVICE>` variables, which is how the local stack is reached with
 * unmodified clients.
 */
export interface ClientSettings {
  /** SDK attempts per call (first try included) before the error reaches the pipeline, which then retries via SQS. */
  readonly maxAttempts?: number;
  /** TCP connect timeout; well under the function timeout. */
  readonly connectionTimeoutMs?: number;
  /** Socket idle timeout of one HTTP request. */
  readonly requestTimeoutMs?: number;
  /**
   * Told of every GuardDuty, Organizations and STS call (latency around all its attempts) and, with
   * `throttled` true, of every attempt that was throttled: for the latency and throttle metrics.
   */
  readonly observe?: (api: string, milliseconds: number, throttled: boolean) => void;
  /**
   * Where endpoints and credentials come from when not the process's (the CLI run by a test): its
   * `AWS_ENDPOINT_URL_<SERVICE>`, `AWS_ENDPOINT_URL` and `AWS_ACCESS_KEY_ID`… Without keys there, the
   * SDK's default chain (AWS_PROFILE, SSO, instance roles) finds the credentials.
   */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** The region of the SQS, STS and DynamoDB clients (default: the SDK's, from AWS_REGION). */
  readonly region?: string;
}

export const CLIENT_DEFAULTS = {
  maxAttempts: 4,
  connectionTimeoutMs: 3_000,
  requestTimeoutMs: 10_000,
} as const;

/** Temporary credentials of a member account (STS AssumeRole). */
export interface MemberCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
  readonly expiration?: Date;
}

export interface Clients {
  guardduty(region: string): GuardDutyClient;
  /**
   * A GuardDuty client acting as a member account. Built per member and region because its
   * credentials are that member's temporary ones; it lives for one invocation.
   */
  memberGuardDuty(region: string, credentials: MemberCredentials): GuardDutyClient;
  readonly organizations: OrganizationsClient;
  /** The Account Management API (global, us-east-1): members' region opt-in (`regions.ts`). */
  readonly account: AccountClient;
  readonly sqs: SQSClient;
  /** STS in the function's own region (regional endpoint), for AssumeRole into member accounts. */
  readonly sts: STSClient;
  readonly dynamodb: DynamoDBClient;
}

/**
 * The configuration every client gets: retries and timeouts, and the endpoint and credentials of
 * `settings.env` when one is given. "adaptive" adds client-side rate limiting on top of "standard"
 * retries: after a throttle the client itself slows down, which is what GuardDuty's and Organizations'
 * undocumented throttles call for; SQS and DynamoDB do not need it.
 */
export function clientConfig(settings: ClientSettings, service: string, retryMode: "adaptive" | "standard") {
  const { maxAttempts, connectionTimeoutMs, requestTimeoutMs, env } = { ...CLIENT_DEFAULTS, ...settings };
  const endpoint = env?.[`AWS_ENDPOINT_URL_${service}`] ?? env?.AWS_ENDPOINT_URL;
  const credentials =
    env?.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY
      ? {
          accessKeyId: env.AWS_ACCESS_KEY_ID,
          secretAccessKey: env.AWS_SECRET_ACCESS_KEY,
          sessionToken: env.AWS_SESSION_TOKEN || undefined,
        }
      : undefined;
  return {
    maxAttempts,
    retryMode,
    // Without throwOnRequestTimeout the node handler only warns when requestTimeout passes: a hung call
    // would then hold the batch until the deadline signal.
    requestHandler: {
      connectionTimeout: connectionTimeoutMs,
      requestTimeout: requestTimeoutMs,
      throwOnRequestTimeout: true,
    },
    ...(credentials && { credentials }),
    ...(endpoint && { endpoint }),
  };
}

type Observable = GuardDutyClient | OrganizationsClient | STSClient | AccountClient;

/**
 * Reports every call of a client: its latency around all SDK attempts, and each attempt answered with
 * a throttle (also those the SDK's retries absorbed, which are the early sign of pressure).
 */
function observed<T extends Observable>(client: T, service: string, observe: ClientSettings["observe"]): T {
  if (!observe) return client;
  const stack = client.middlewareStack as GuardDutyClient["middlewareStack"];
  const apiOf = (commandName: string | undefined) => `${service}.${commandName?.replace(/Command$/, "")}`;
  stack.add(
    (next, context) => async (args) => {
      const started = performance.now();
      try {
        return await next(args);
      } finally {
        observe(apiOf(context.commandName), Math.round(performance.now() - started), false);
      }
    },
    { step: "initialize", name: "observeCalls" },
  );
  // The deserialize step runs once per attempt, inside the retry loop.
  stack.add(
    (next, context) => async (args) => {
      try {
        return await next(args);
      } catch (error) {
        if (isThrottling(error)) observe(apiOf(context.commandName), 0, true);
        throw error;
      }
    },
    { step: "deserialize", name: "observeThrottles", priority: "high" },
  );
  return client;
}

export function createClients(settings: ClientSettings = {}): Clients {
  const { observe, region } = settings;
  const guardduty = new Map<string, GuardDutyClient>();
  const guarddutyConfig = clientConfig(settings, "GUARDDUTY", "adaptive");
  return {
    guardduty(name) {
      const client =
        guardduty.get(name) ??
        observed(new GuardDutyClient({ ...guarddutyConfig, region: name }), "GuardDuty", observe);
      guardduty.set(name, client);
      return client;
    },
    memberGuardDuty: (name, credentials) =>
      observed(
        new GuardDutyClient({ ...guarddutyConfig, region: name, credentials }),
        "GuardDutyMember",
        observe,
      ),
    organizations: observed(
      new OrganizationsClient({
        ...clientConfig(settings, "ORGANIZATIONS", "adaptive"),
        region: ORGANIZATIONS_REGION,
      }),
      "Organizations",
      observe,
    ),
    account: observed(
      new AccountClient({ ...clientConfig(settings, "ACCOUNT", "adaptive"), region: ACCOUNT_REGION }),
      "Account",
      observe,
    ),
    sqs: new SQSClient({ ...clientConfig(settings, "SQS", "standard"), region }),
    sts: observed(new STSClient({ ...clientConfig(settings, "STS", "standard"), region }), "STS", observe),
    dynamodb: new DynamoDBClient({ ...clientConfig(settings, "DYNAMODB", "standard"), region }),
  };
}
