import { asDeadLetter, INVALID_MESSAGE, REDRIVEN_BY_SQS, replayOf } from "./dead-letter.ts";
import { InvalidMessageError } from "./errors.ts";
import { parseMessage } from "./message.ts";
import { redact } from "./privacy.ts";
import { isReconcileUnit } from "./reconcile-unit.ts";

/**
 * What an operator needs to know about one DeadLetterQueue message, and the request that replays it.
 * Two kinds reach the queue (README, "An account is in the DLQ — what now"): dead letters the pipeline wrote
 * (`routing.ts`, a `DeadLetterBody` with a reason), and original bodies SQS itself moved there after
 * `maxReceiveCount` receives without a delete (the function crashed or timed out on them).
 */

export { REDRIVEN_BY_SQS } from "./dead-letter.ts";

/** A DLQ message as SQS hands it over (body and the system attributes the view uses). */
export interface QueuedDeadLetter {
  readonly messageId: string;
  readonly body: string;
  /** `ApproximateReceiveCount`: every receive counts, including those of `dlq list`. */
  readonly receiveCount?: number;
  /** `SentTimestamp` in epoch ms: SQS keeps the original send time when it redrives a message. */
  readonly sentAt?: number;
  /** `DeadLetterQueueSourceArn`: the queue SQS redrove the message from. */
  readonly sourceQueueArn?: string;
}

export type DeadLetterSource = "pipeline" | "sqs-redrive";

export interface DeadLetterView {
  readonly messageId: string;
  readonly source: DeadLetterSource;
  readonly reason: string;
  readonly detail: string;
  readonly accountId?: string;
  readonly region?: string;
  /** Deliveries spent on the request before it was dead-lettered (the request's `attempt` + 1). */
  readonly attempts?: number;
  readonly receiveCount?: number;
  /** When the message entered SQS: the dead-lettering (pipeline) or the original send (redrive). */
  readonly sentAt?: string;
  readonly correlationId?: string;
  readonly sourceQueueArn?: string;
  /** An unparseable original, kept so the producer can be fixed; e-mail addresses redacted. */
  readonly raw?: string;
  /** The body that replays this message on OnboardingQueue, or why there is none. */
  readonly replay: { readonly body: string } | { readonly notReplayable: string };
}

export interface DeadLetterFilter {
  readonly reason?: string;
  readonly accountId?: string;
}

type Json = Record<string, unknown>;
/** What the body tells; the rest of a view comes from the SQS message. */
type BodyFields = Omit<DeadLetterView, "messageId" | "receiveCount" | "sentAt" | "sourceQueueArn">;

/** Reads one DLQ message into what `dlq list` shows and `dlq replay` sends. Never throws. */
export function readDeadLetter(message: QueuedDeadLetter): DeadLetterView {
  const json = jsonObject(message.body);
  const common = {
    messageId: message.messageId,
    receiveCount: message.receiveCount,
    sentAt: message.sentAt === undefined ? undefined : new Date(message.sentAt).toISOString(),
    sourceQueueArn: message.sourceQueueArn,
  };
  if (asDeadLetter(json)) return { ...common, ...readPipelineBody(json as Json) };
  return { ...common, ...readRedriven(message.body) };
}

/** Whether a view is selected by `--reason` and `--account` (both must match when given). */
export function matchesFilter(view: DeadLetterView, filter: DeadLetterFilter): boolean {
  return (
    (filter.reason === undefined || view.reason === filter.reason) &&
    (filter.accountId === undefined || view.accountId === filter.accountId)
  );
}

function readPipelineBody(json: Json): BodyFields {
  const attempt = typeof json.attempt === "number" ? json.attempt : undefined;
  const request = json.request && typeof json.request === "object" ? (json.request as Json) : undefined;
  const reason = json.reason as string;
  return {
    source: "pipeline",
    reason,
    detail: typeof json.detail === "string" ? redact(json.detail) : "",
    accountId: text(json.accountId),
    region: text(json.region),
    attempts: attempt === undefined ? undefined : attempt + 1,
    correlationId: text(json.correlationId),
    raw: typeof json.raw === "string" ? redact(json.raw) : undefined,
    replay: request
      ? freshRequest(request)
      : {
          notReplayable:
            reason === INVALID_MESSAGE
              ? "the original body is not a valid message (it is kept in `raw`): fix the producer and send a corrected request"
              : "the dead letter carries no request to replay",
        },
  };
}

function readRedriven(body: string): BodyFields {
  const redriven = {
    source: "sqs-redrive" as const,
    reason: REDRIVEN_BY_SQS,
    detail: "the function failed on it at every receive (crash or timeout), so SQS moved it here",
  };
  if (isReconcileUnit(body)) {
    return {
      ...redriven,
      replay: {
        notReplayable:
          "a unit of a reconcile run (ReconcileQueue): the next scheduled run judges its accounts again",
      },
    };
  }
  let parsed: ReturnType<typeof parseMessage>;
  try {
    parsed = parseMessage(body);
  } catch (error) {
    if (!(error instanceof InvalidMessageError)) throw error;
    return {
      ...redriven,
      raw: redact(body).slice(0, 2000),
      replay: { notReplayable: `the body is not a valid message (${error.message}): fix the producer` },
    };
  }
  if (parsed.kind === "not-created") {
    return {
      ...redriven,
      correlationId: parsed.correlationId,
      replay: {
        notReplayable: `the event reports an account creation in state ${parsed.state}: nothing to onboard`,
      },
    };
  }
  if (parsed.kind === "ignored") {
    return {
      ...redriven,
      correlationId: parsed.correlationId,
      replay: { notReplayable: `${parsed.detail}: nothing to do` },
    };
  }
  if (parsed.kind === "requests") {
    return {
      ...redriven,
      correlationId: parsed.requests[0]?.correlationId,
      replay: {
        notReplayable: `the event names ${parsed.requests.length} accounts: move it back as it is (dlq replay --all)`,
      },
    };
  }
  const { request } = parsed;
  // A request keeps every field it came with (a newer `step`, say); an event becomes a request for its account.
  const json = jsonObject(body);
  const original = json && !("detail-type" in json) ? json : undefined;
  return {
    ...redriven,
    accountId: request.accountId,
    region: request.regions?.join(","),
    attempts: request.attempt + 1,
    correlationId: request.correlationId,
    replay: freshRequest(original ?? { ...request }),
  };
}

/** The request as a fresh replay (`dead-letter.ts`), if it is still a valid request. */
function freshRequest(request: Json): DeadLetterView["replay"] {
  const body = JSON.stringify(replayOf(request));
  try {
    parseMessage(body);
  } catch (error) {
    if (!(error instanceof InvalidMessageError)) throw error;
    return { notReplayable: `the dead letter's request is not valid (${error.message})` };
  }
  return { body };
}

function jsonObject(body: string): Json | undefined {
  try {
    const json: unknown = JSON.parse(body);
    return json && typeof json === "object" && !Array.isArray(json) ? (json as Json) : undefined;
  } catch {
    return undefined;
  }
}

function text(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}
