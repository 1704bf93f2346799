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

export function createClients(settings: ClientSettings = {}): Clients {
  const { maxAttempts, connectionTimeoutMs, requestTimeoutMs } = { ...CLIENT_DEFAULTS, ...settings };
  const requestHandler = { connectionTimeout: connectionTimeoutMs, requestTimeout: requestTimeoutMs };
  // "adaptive" adds client-side rate limiting on top of "standard" retries: after a throttle, the client
  // itself slows down, which is what GuardDuty's and Organizations' undocumented throttles call for.
  const throttled = { maxAttempts, retryMode: "adaptive", requestHandler } as const;
  const guardduty = new Map<string, GuardDutyClient>();
  return {
    guardduty(region) {
      const client = guardduty.get(region) ?? new GuardDutyClient({ ...throttled, region });
      guardduty.set(region, client);
      return client;
    },
    memberGuardDuty: (region, credentials) => new GuardDutyClient({ ...throttled, region, credentials }),
    organizations: new OrganizationsClient({ ...throttled, region: ORGANIZATIONS_REGION }),
    sqs: new SQSClient({ maxAttempts, retryMode: "standard", requestHandler }),
    sts: new STSClient({ maxAttempts, retryMode: "standard", requestHandler }),
  };
}
