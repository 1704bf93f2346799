import { retryDelaySeconds } from "./backoff.ts";
import type { RegionOutcome } from "./members.ts";
import type { OnboardingRequest } from "./message.ts";

/**
 * Where an account that GuardDuty did not accept goes next, as plain data: the retry queue (transient,
 * with backoff) or the dead-letter queue (permanent, with a reason). Sending is `dispatch.ts`'s job.
 */

export type Destination = "retry" | "dead-letter";

/** A message to send on behalf of one source record; the record is deleted only once every send is confirmed. */
export interface Outbound {
  readonly sourceId: string;
  readonly destination: Destination;
  readonly body: string;
  readonly delaySeconds?: number;
}

/** Every message on the DeadLetterQueue that the project writes (DESIGN.md, "Dead-letter bodies"). */
export interface DeadLetterBody {
  readonly reason: string;
  readonly detail: string;
  readonly accountId?: string;
  readonly region?: string;
  readonly at: string;
  readonly attempt?: number;
  readonly correlationId?: string;
  /** The request to replay: narrowed to the failed region. */
  readonly request?: OnboardingRequest;
  /** A body that could not be parsed, verbatim. */
  readonly raw?: string;
}

export interface RoutingPolicy {
  readonly maxAttempts: number;
  readonly retryBaseDelaySeconds: number;
  readonly random?: () => number;
}

/** A body that is not one of the contracts: kept verbatim in `raw`, never retried. */
export function deadLetterInvalid(sourceId: string, raw: string, detail: string, at: string): Outbound {
  const body: DeadLetterBody = { reason: "invalid-message", detail, at, raw };
  return { sourceId, destination: "dead-letter", body: JSON.stringify(body) };
}

/**
 * Routes one request's non-terminal region outcomes. Retryable regions travel together in one retry
 * message (attempt + 1, only those regions, delayed with backoff); once attempts are spent each becomes
 * a `retries-exhausted` dead letter with the last error. Each permanently failed region becomes its own
 * dead letter, so `dlq replay` resumes exactly that (account, region).
 */
export function routeOutcomes(
  sourceId: string,
  request: OnboardingRequest,
  outcomes: ReadonlyMap<string, RegionOutcome>,
  policy: RoutingPolicy,
  at: string,
): Outbound[] {
  const outbound: Outbound[] = [];
  const deadLetter = (region: string, reason: string, detail: string, step: RegionOutcome["step"]) => {
    const body: DeadLetterBody = {
      reason,
      detail,
      accountId: request.accountId,
      region,
      at,
      attempt: request.attempt,
      correlationId: request.correlationId,
      request: { ...request, regions: [region], step },
    };
    outbound.push({ sourceId, destination: "dead-letter", body: JSON.stringify(body) });
  };

  const retrying = [...outcomes].filter(([, outcome]) => outcome.outcome === "retry");
  const nextAttempt = request.attempt + 1;
  if (nextAttempt >= policy.maxAttempts) {
    for (const [region, { reason, detail, step }] of retrying) {
      deadLetter(
        region,
        "retries-exhausted",
        `after ${nextAttempt} attempts, last ${reason}: ${detail ?? ""}`,
        step,
      );
    }
  } else {
    // One retry per step: regions failing at the member side resume there, the others from the start.
    for (const step of [undefined, "accept"] as const) {
      const group = retrying.filter(([, outcome]) => outcome.step === step);
      if (group.length === 0) continue;
      const [region, { reason = "unknown", detail = "" }] = group[0] as [string, RegionOutcome];
      const retry: OnboardingRequest = {
        ...request,
        attempt: nextAttempt,
        origin: "retry",
        regions: group.map(([name]) => name),
        step,
        lastError: { reason, detail, region },
      };
      outbound.push({
        sourceId,
        destination: "retry",
        body: JSON.stringify(retry),
        delaySeconds: retryDelaySeconds(request.attempt, policy.retryBaseDelaySeconds, policy.random),
      });
    }
  }
  for (const [region, { outcome, reason, detail, step }] of outcomes) {
    if (outcome === "dead-letter") deadLetter(region, reason ?? "unknown", detail ?? "", step);
  }
  return outbound;
}

/**
 * What a `retry` becomes once the request has spent its attempts: a `retries-exhausted` dead letter
 * carrying the last reason. Any other outcome is returned as it is.
 */
export function exhaust(
  request: OnboardingRequest,
  outcome: RegionOutcome,
  maxAttempts: number,
): RegionOutcome {
  const attempts = request.attempt + 1;
  if (outcome.outcome !== "retry" || attempts < maxAttempts) return outcome;
  return {
    outcome: "dead-letter",
    reason: "retries-exhausted",
    detail: `after ${attempts} attempts, last ${outcome.reason}: ${outcome.detail ?? ""}`,
    step: outcome.step,
  };
}
