import { GuardDutyClient } from "@aws-sdk/client-guardduty";
import { OrganizationsClient } from "@aws-sdk/client-organizations";
import { SQSClient } from "@aws-sdk/client-sqs";
import { STSClient } from "@aws-sdk/client-sts";

/**
 * Every AWS client the project uses is built here, once per container, with an explicit retry mode,
 * attempt budget and timeouts. Endpoints come from the SDK's standard `AWS_ENDPOINT_URL_<SERVICE>`
 * variables, which is how the local stack is reached with unmodified clients.
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
}

export const CLIENT_DEFAULTS = {
  maxAttempts: 4,
  connectionTimeoutMs: 3_000,
  requestTimeoutMs: 10_000,
} as const;

/** Organizations is a global service whose endpoint lives in us-east-1. */
export const ORGANIZATIONS_REGION = "us-east-1";

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
  readonly sqs: SQSClient;
  /** STS in the function's own region (regional endpoint), for AssumeRole into member accounts. */
  readonly sts: STSClient;
}

/** Errors that mean "slow down", whatever the service calls them. */
const THROTTLING = new Set([
  "TooManyRequestsException",
  "ThrottlingException",
  "Throttling",
  "RequestLimitExceeded",
]);

type Observable = GuardDutyClient | OrganizationsClient | STSClient;

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
        const { name = "", $metadata } = error as { name?: string; $metadata?: { httpStatusCode?: number } };
        if (THROTTLING.has(name) || $metadata?.httpStatusCode === 429)
          observe(apiOf(context.commandName), 0, true);
        throw error;
      }
    },
    { step: "deserialize", name: "observeThrottles", priority: "high" },
  );
  return client;
}

export function createClients(settings: ClientSettings = {}): Clients {
  const { maxAttempts, connectionTimeoutMs, requestTimeoutMs, observe } = { ...CLIENT_DEFAULTS, ...settings };
  // Without throwOnRequestTimeout the node handler only warns when requestTimeout passes: a hung call
  // would then hold the batch until the deadline signal.
  const requestHandler = {
    connectionTimeout: connectionTimeoutMs,
    requestTimeout: requestTimeoutMs,
    throwOnRequestTimeout: true,
  };
  // "adaptive" adds client-side rate limiting on top of "standard" retries: after a throttle, the client
  // itself slows down, which is what GuardDuty's and Organizations' undocumented throttles call for.
  const throttled = { maxAttempts, retryMode: "adaptive", requestHandler } as const;
  const guardduty = new Map<string, GuardDutyClient>();
  return {
    guardduty(region) {
      const client =
        guardduty.get(region) ??
        observed(new GuardDutyClient({ ...throttled, region }), "GuardDuty", observe);
      guardduty.set(region, client);
      return client;
    },
    memberGuardDuty: (region, credentials) =>
      observed(new GuardDutyClient({ ...throttled, region, credentials }), "GuardDutyMember", observe),
    organizations: observed(
      new OrganizationsClient({ ...throttled, region: ORGANIZATIONS_REGION }),
      "Organizations",
      observe,
    ),
    sqs: new SQSClient({ maxAttempts, retryMode: "standard", requestHandler }),
    sts: observed(new STSClient({ maxAttempts, retryMode: "standard", requestHandler }), "STS", observe),
  };
}
