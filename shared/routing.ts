import { retryDelaySeconds } from "./backoff.ts";
import { deadLetterOf, invalidDeadLetter } from "./dead-letter.ts";
import type { OnboardingRequest } from "./message.ts";
import { awaitsAcceptance, awaitsVerification, STEPS } from "./outcomes.ts";
import { byMessage, type Cell, type Plan } from "./plan.ts";

/**
 * Where each (account, region) of a final plan goes next, as plain data: a retry (with backoff), the
 * dead-letter queue (with a reason), the member side's queue (invited, to be accepted), or back to the
 * administrator side (accepted, to have its plans verified). Sending is
 * `dispatch.ts`'s job; a message is deleted only once all its sends are confirmed.
 */

/** `verify`: the onboard function's RetryQueue, where accepted members have their plans verified. */
export type Destination = "retry" | "dead-letter" | "accept" | "verify";

/** A message to send on behalf of one source record. */
export interface Outbound {
  readonly sourceId: string;
  readonly destination: Destination;
  readonly body: string;
  readonly delaySeconds?: number;
}

export interface RoutingPolicy {
  readonly retryBaseDelaySeconds: number;
  /** Invited members go to the member side's queue (invitation mode with acceptance on). */
  readonly handOffAcceptance: boolean;
  /** Accepted members go back to the administrator side to have their plans verified (the accept function). */
  readonly handOffVerification?: boolean;
  /**
   * Where retries go: the onboard function's RetryQueue; the member side retries on its own queue
   * (`accept`), so that its retries never pass through the administrator side again.
   */
  readonly retryTo: Extract<Destination, "retry" | "accept">;
  readonly random?: () => number;
}

/** Every outbound message of a final plan (`exhaust-retries.ts` ran: a `retry` has attempts left). */
export function route(plan: Plan, policy: RoutingPolicy, at: string): Outbound[] {
  const outbound: Outbound[] = [];
  for (const note of plan.notes) {
    if (note.outcome !== "dead-letter") continue;
    const body = invalidDeadLetter(note.raw ?? "", note.detail, at);
    outbound.push({ sourceId: note.messageId, destination: "dead-letter", body: JSON.stringify(body) });
  }
  for (const [messageId, cells] of byMessage(plan)) {
    // A message may ask for several accounts (a tamper signal): each request is routed on its own.
    const byRequest = new Map<OnboardingRequest, Cell[]>();
    for (const cell of cells) byRequest.set(cell.request, [...(byRequest.get(cell.request) ?? []), cell]);
    for (const requestCells of byRequest.values())
      outbound.push(...routeMessage(messageId, requestCells, policy, at));
  }
  return outbound;
}

function routeMessage(
  messageId: string,
  cells: readonly Cell[],
  policy: RoutingPolicy,
  at: string,
): Outbound[] {
  const [first] = cells;
  if (!first) return [];
  const { request } = first;
  const outbound: Outbound[] = [];
  const send = (destination: Destination, body: unknown, delaySeconds?: number) =>
    outbound.push({ sourceId: messageId, destination, body: JSON.stringify(body), delaySeconds });

  for (const { region, outcome } of cells) {
    if (outcome?.outcome !== "dead-letter") continue;
    send(
      "dead-letter",
      deadLetterOf(
        request,
        region,
        { reason: outcome.reason ?? "unknown", detail: outcome.detail ?? "", step: outcome.step },
        at,
      ),
    );
  }
  // One retry per step: regions failing at a step (the member side, verification, a recreate) resume
  // there, the others from the start.
  for (const step of [undefined, ...STEPS]) {
    const retrying = cells.filter(({ outcome }) => outcome?.outcome === "retry" && outcome.step === step);
    const [failing] = retrying;
    if (!failing?.outcome) continue;
    const retry: OnboardingRequest = {
      ...request,
      attempt: request.attempt + 1,
      origin: "retry",
      regions: retrying.map((cell) => cell.region),
      step,
      lastError: {
        reason: failing.outcome.reason ?? "unknown",
        detail: failing.outcome.detail ?? "",
        region: failing.region,
      },
    };
    const destination = step === "accept" ? policy.retryTo : "retry";
    send(destination, retry, retryDelaySeconds(request.attempt, policy.retryBaseDelaySeconds, policy.random));
  }
  // Invited (now or before): one request to the member side for all the message's such regions. It is a
  // new step with attempts of its own.
  const invited = policy.handOffAcceptance
    ? cells.filter(({ outcome }) => outcome && awaitsAcceptance(outcome))
    : [];
  if (invited.length > 0) send("accept", handOff(request, invited, "accept"));
  const accepted = policy.handOffVerification
    ? cells.filter(({ outcome }) => outcome && awaitsVerification(outcome))
    : [];
  if (accepted.length > 0) send("verify", handOff(request, accepted, "verify"));
  return outbound;
}

/** The request that starts a new step for some of a message's regions, with attempts of its own. */
function handOff(
  request: OnboardingRequest,
  cells: readonly Cell[],
  step: "accept" | "verify",
): OnboardingRequest {
  return { ...request, attempt: 0, regions: cells.map((cell) => cell.region), step, lastError: undefined };
}
