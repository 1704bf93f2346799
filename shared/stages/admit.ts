import { INVALID_MESSAGE } from "../dead-letter.ts";
import { InvalidMessageError } from "../errors.ts";
import { type OnboardingRequest, parseMessage } from "../message.ts";
import type { Cell, Note, Plan, SourceRecord } from "../plan.ts";

/**
 * The first stage: each SQS record becomes the cells of the (account, region) pairs it asks for, or a
 * note saying why it asks for none. Nothing here calls AWS.
 */

export interface Admission {
  /** The regions this stage manages: a request naming others is narrowed to these. */
  readonly regions: readonly string[];
  /** The administrator account is not its own member. */
  readonly administratorAccountId?: string;
  /** The accept function takes only requests that resume at acceptance. */
  readonly acceptOnly?: boolean;
}

export function admit(records: readonly SourceRecord[], admission: Admission): Plan {
  const cells: Cell[] = [];
  const notes: Note[] = [];
  for (const { messageId, body } of records) {
    let parsed: ReturnType<typeof parseMessage>;
    try {
      parsed = parseMessage(body);
    } catch (error) {
      if (!(error instanceof InvalidMessageError)) throw error;
      const raw = error.raw ?? body;
      notes.push({ messageId, outcome: "dead-letter", reason: INVALID_MESSAGE, detail: error.message, raw });
      continue;
    }
    if (parsed.kind === "not-created") {
      notes.push({
        messageId,
        outcome: "skipped",
        reason: "account-not-created",
        detail: `the event reports an account creation in state ${parsed.state}`,
        correlationId: parsed.correlationId,
      });
      continue;
    }
    if (parsed.kind === "ignored") {
      notes.push({
        messageId,
        outcome: "skipped",
        reason: "lifecycle-event-ignored",
        detail: parsed.detail,
        correlationId: parsed.correlationId,
      });
      continue;
    }
    for (const request of parsed.kind === "requests" ? parsed.requests : [parsed.request])
      admitRequest(messageId, body, request, admission, cells, notes);
  }
  return { cells, notes };
}

function admitRequest(
  messageId: string,
  body: string,
  request: OnboardingRequest,
  admission: Admission,
  cells: Cell[],
  notes: Note[],
): void {
  const note = (outcome: Note["outcome"], reason: string, detail: string): Note => ({
    messageId,
    outcome,
    reason,
    detail,
    accountId: request.accountId,
    attempt: request.attempt,
    correlationId: request.correlationId,
  });
  if (admission.acceptOnly && request.step !== "accept") {
    notes.push({
      ...note("dead-letter", INVALID_MESSAGE, "not a request to accept an invitation"),
      raw: body,
    });
    return;
  }
  if (request.accountId === admission.administratorAccountId) {
    notes.push(note("skipped", "administrator-account", "the administrator account is not its own member"));
    return;
  }
  const wanted = request.regions ?? admission.regions;
  const regions = admission.regions.filter((region) => wanted.includes(region));
  const ignored = wanted.filter((region) => !admission.regions.includes(region));
  if (ignored.length > 0) {
    notes.push(
      note("skipped", "region-not-configured", `regions this stage does not manage: ${ignored.join(", ")}`),
    );
  }
  for (const region of regions) cells.push({ messageId, request, region });
}
