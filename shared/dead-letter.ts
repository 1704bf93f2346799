import type { OnboardingRequest } from "./message.ts";
import type { Step } from "./outcomes.ts";

/**
 * The dead-letter body: the one owner of its shape (README, "What it does, precisely"). Routing writes it,
 * the message parser and the operator's view recognise it, and both turn it into the request that
 * replays it; the local summary and the bench read it through here too.
 */

export interface DeadLetterBody {
  readonly reason: string;
  readonly detail: string;
  readonly accountId?: string;
  readonly region?: string;
  readonly at: string;
  /** Deliveries spent before it was dead-lettered, minus one (the request's `attempt`). */
  readonly attempt?: number;
  readonly correlationId?: string;
  /** The request to replay: narrowed to the failed region, resuming at the failed step. */
  readonly request?: OnboardingRequest;
  /** A body that could not be parsed, verbatim. */
  readonly raw?: string;
}

/** The reason shown for bodies SQS moved to the DLQ itself (a crash or timeout at every receive). */
export const REDRIVEN_BY_SQS = "redriven-by-sqs";
/** The reason of a body that is none of the contracts (kept verbatim in `raw`). */
export const INVALID_MESSAGE = "invalid-message";

/** The dead letter of one (account, region) of a request. */
export function deadLetterOf(
  request: OnboardingRequest,
  region: string,
  failure: { readonly reason: string; readonly detail: string; readonly step?: Step },
  at: string,
): DeadLetterBody {
  return {
    reason: failure.reason,
    detail: failure.detail,
    accountId: request.accountId,
    region,
    at,
    attempt: request.attempt,
    correlationId: request.correlationId,
    request: { ...request, regions: [region], step: failure.step, lastError: undefined },
  };
}

/** The dead letter of a body that is not one of the contracts. */
export function invalidDeadLetter(raw: string, detail: string, at: string): DeadLetterBody {
  return { reason: INVALID_MESSAGE, detail, at, raw };
}

/** A parsed body, if it is a dead letter the pipeline wrote: a `reason` and an `at`, and no request `version`. */
export function asDeadLetter(json: unknown): DeadLetterBody | undefined {
  if (!json || typeof json !== "object" || Array.isArray(json) || "version" in json) return undefined;
  const { reason, at } = json as Record<string, unknown>;
  return typeof reason === "string" && typeof at === "string" ? (json as DeadLetterBody) : undefined;
}

/**
 * A request as a fresh replay: `attempt` 0, origin `replay`, no `lastError`; every other field —
 * `regions`, `step`, `correlationId`, and fields this version does not know — kept as it is.
 */
export function replayOf(request: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const { lastError: _lastError, ...rest } = request;
  return { ...rest, attempt: 0, origin: "replay" };
}
