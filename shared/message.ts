import * as z from "zod/mini";
import { asDeadLetter, type DeadLetterBody, replayOf } from "./dead-letter.ts";
import { InvalidMessageError } from "./errors.ts";
import { ACCOUNT_ID_PATTERN, REGION_PATTERN } from "./ids.ts";
import { type LifecycleKind, readLifecycleEvent } from "./lifecycle.ts";
import { STEPS } from "./outcomes.ts";

/**
 * The message contracts of OnboardingQueue, RetryQueue and AcceptQueue (README, "What it does, precisely"):
 * 1. an EventBridge event exactly as a rule delivers it (Organizations `CreateAccountResult`,
 *    Control Tower `CreateManagedAccount`, and the lifecycle events of `lifecycle.ts`), and
 * 2. a versioned onboarding request;
 * and, so that SQS's own redrive (`StartMessageMoveTask`, `gd-onboard dlq replay --all`) can move dead
 * letters back verbatim, 3. a dead letter the pipeline wrote: its request is replayed, fresh.
 */

export const ORIGINS = ["event", "backfill", "reconcile", "replay", "retry", "manual"] as const;
export type Origin = (typeof ORIGINS)[number];
/** What a request asks: `onboard` (the default) or `offboard` a departed account's members. */
export const ACTIONS = ["onboard", "offboard"] as const;
export type Action = (typeof ACTIONS)[number];

const accountId = z.string().check(z.regex(ACCOUNT_ID_PATTERN, "must be 12 ASCII digits"));

const LastErrorSchema = z.object({
  reason: z.string(),
  detail: z.string(),
  region: z.optional(z.string()),
});

/** Version 1 of the onboarding request. Only `version` and `accountId` are required of a hand-written one. */
export const OnboardingRequestSchema = z.object({
  version: z.literal(1),
  accountId,
  /** Narrows the work to these regions; a retry carries only the regions still failing. */
  regions: z.optional(
    z.array(z.string().check(z.regex(REGION_PATTERN, "must be a region name"))).check(z.minLength(1)),
  ),
  /** Deliveries already spent on this request (0 on the first). */
  attempt: z._default(z.int().check(z.minimum(0)), 0),
  origin: z._default(z.enum(ORIGINS), "manual"),
  requestedAt: z.optional(z.iso.datetime()),
  /**
   * Where to resume: `accept` = the member-side step only (the invitation went out already); `verify` =
   * the member is associated, its protection plans are verified (and applied) only; `recreate` = a member
   * still `EmailVerificationFailed` is deleted, then the account is onboarded with its e-mail read again.
   */
  step: z.optional(z.enum(STEPS)),
  /** Absent means `onboard`; `offboard` disassociates and deletes the member (a departed or closed account). */
  action: z.optional(z.enum(ACTIONS)),
  /** The lifecycle event that asked for it (`AcceptHandshake`, `DeleteMembers`…), kept through retries. */
  trigger: z.optional(z.string().check(z.maxLength(64))),
  /** Carried from the EventBridge event id through retries and replays: one query finds the whole story. */
  correlationId: z.optional(z.string().check(z.maxLength(128))),
  lastError: z.optional(LastErrorSchema),
});

export type OnboardingRequest = z.output<typeof OnboardingRequestSchema>;
export type LastError = z.output<typeof LastErrorSchema>;

/**
 * CloudTrail's `serviceEventDetails` sometimes arrives as a JSON string rather than an object
 * (seen in CloudTrail's AWS service events); accept both.
 */
const jsonObject = <T extends z.ZodMiniType>(schema: T) =>
  z.pipe(
    z.transform((value: unknown) => {
      if (typeof value !== "string") return value;
      try {
        return JSON.parse(value) as unknown;
      } catch {
        return value;
      }
    }),
    schema,
  );

const OrganizationsDetail = z.object({
  eventName: z.literal("CreateAccountResult"),
  serviceEventDetails: jsonObject(
    z.object({
      createAccountStatus: z.object({ state: z.string(), accountId: z.optional(z.string()) }),
    }),
  ),
});

const ControlTowerDetail = z.object({
  eventName: z.literal("CreateManagedAccount"),
  serviceEventDetails: jsonObject(
    z.object({
      createManagedAccountStatus: z.object({
        state: z.string(),
        account: z.optional(z.object({ accountId: z.optional(z.string()) })),
      }),
    }),
  ),
});

/** The EventBridge envelope fields the pipeline reads (an event exactly as a rule delivers it). */
const envelope = {
  version: z.literal("0"),
  id: z.string(),
  "detail-type": z.string(),
  account: z.string(),
  time: z.iso.datetime(),
  region: z.string(),
};

const AccountCreatedEvent = z.discriminatedUnion("source", [
  z.object({ ...envelope, source: z.literal("aws.organizations"), detail: OrganizationsDetail }),
  z.object({ ...envelope, source: z.literal("aws.controltower"), detail: ControlTowerDetail }),
]);

/** What one SQS message body asks for. */
export type ParsedMessage =
  | { readonly kind: "request"; readonly request: OnboardingRequest }
  /** A lifecycle event naming several accounts (a tamper signal's `accountIds`). */
  | { readonly kind: "requests"; readonly requests: readonly OnboardingRequest[] }
  /** A well-formed lifecycle event that asks for nothing (a failed call, a non-invitation handshake). */
  | {
      readonly kind: "ignored";
      readonly lifecycle: LifecycleKind;
      readonly detail: string;
      readonly correlationId: string;
    }
  /** A well-formed event about an account that was not created (state FAILED, IN_PROGRESS…). */
  | { readonly kind: "not-created"; readonly state: string; readonly correlationId: string };

/**
 * Parses one SQS message body. Throws {@link InvalidMessageError} for anything that is not one of the
 * contracts: not JSON, wrong source or shape, an account id that is not 12 digits, an unknown version.
 */
export function parseMessage(body: string): ParsedMessage {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    throw new InvalidMessageError("body is not JSON");
  }
  if (!json || typeof json !== "object" || Array.isArray(json)) {
    throw new InvalidMessageError("body is not a JSON object");
  }
  if ("detail-type" in json) return parseEvent(json);
  const letter = asDeadLetter(json);
  if (letter) return parseDeadLetter(letter);
  if (!("version" in json)) {
    throw new InvalidMessageError("body is neither an EventBridge event, a request nor a dead letter");
  }
  if (json.version !== 1)
    throw new InvalidMessageError(`unknown request version ${JSON.stringify(json.version)}`);
  const request = z.safeParse(OnboardingRequestSchema, json);
  if (!request.success) throw new InvalidMessageError(`invalid request: ${describe(request.error)}`);
  return { kind: "request", request: request.data };
}

/**
 * A dead letter moved back as it is: its request again, as a fresh replay (`dead-letter.ts`). An
 * `invalid-message` dead letter has no request: its original body is what stays invalid.
 */
function parseDeadLetter(letter: DeadLetterBody): ParsedMessage {
  const { request, raw } = letter;
  if (request && typeof request === "object") {
    const parsed = z.safeParse(
      OnboardingRequestSchema,
      replayOf(request as unknown as Record<string, unknown>),
    );
    if (!parsed.success)
      throw new InvalidMessageError(`invalid request in dead letter: ${describe(parsed.error)}`);
    return { kind: "request", request: parsed.data };
  }
  throw new InvalidMessageError(
    "a dead letter without a request (its original body was never valid)",
    typeof raw === "string" ? raw : undefined,
  );
}

const LifecycleEvent = z.object({
  ...envelope,
  source: z.enum(["aws.organizations", "aws.guardduty"]),
  detail: z.record(z.string(), z.unknown()),
});

/** A lifecycle event (`lifecycle.ts`): a request per account it names, or a note of why it names none. */
function parseLifecycleEvent(json: object): ParsedMessage | undefined {
  const event = z.safeParse(LifecycleEvent, json);
  if (!event.success) return undefined;
  const { id, time, detail } = event.data;
  const read = readLifecycleEvent(detail);
  if (!read) return undefined;
  if ("ignored" in read)
    return { kind: "ignored", lifecycle: read.kind, detail: read.ignored, correlationId: id };
  const requests = read.accountIds.map(
    (accountId): OnboardingRequest => ({
      version: 1,
      accountId,
      attempt: 0,
      origin: "event",
      requestedAt: time,
      correlationId: id,
      trigger: String(detail.eventName),
      ...(read.kind === "departure" ? { action: "offboard" as const } : {}),
    }),
  );
  return requests.length === 1
    ? { kind: "request", request: requests[0] as OnboardingRequest }
    : { kind: "requests", requests };
}

function parseEvent(json: object): ParsedMessage {
  const lifecycle = parseLifecycleEvent(json);
  if (lifecycle) return lifecycle;
  const event = z.safeParse(AccountCreatedEvent, json);
  if (!event.success) throw new InvalidMessageError(`not an account-created event: ${describe(event.error)}`);
  const { id, time, detail } = event.data;
  const status =
    "createAccountStatus" in detail.serviceEventDetails
      ? detail.serviceEventDetails.createAccountStatus
      : {
          state: detail.serviceEventDetails.createManagedAccountStatus.state,
          accountId: detail.serviceEventDetails.createManagedAccountStatus.account?.accountId,
        };
  if (status.state !== "SUCCEEDED") return { kind: "not-created", state: status.state, correlationId: id };
  const parsed = z.safeParse(accountId, status.accountId);
  if (!parsed.success) throw new InvalidMessageError(`event account id ${describe(parsed.error)}`);
  return {
    kind: "request",
    request: {
      version: 1,
      accountId: parsed.data,
      attempt: 0,
      origin: "event",
      requestedAt: time,
      correlationId: id,
    },
  };
}

/** A short, PII-free description of a validation failure: paths and messages, never input values. */
function describe(error: z.core.$ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((issue) => `${issue.path.join(".") || "(root)"} ${issue.message}`)
    .join("; ");
}
