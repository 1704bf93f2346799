/**
 * What "loses nothing" means, checked after a chaos run from what the services and queues ended with —
 * never from what the function says it did:
 * - every (account, region) ends Invited or Enabled, or its account sits in the DLQ with a reason for
 *   that region (a redriven original body covers the regions it names, or all of them);
 * - with the member side on (`requireEnabled`), every (account, region) ends Enabled, or sits in the DLQ
 *   with a reason — the accept function's own dead letters (from AcceptQueue, `step: "accept"`) and SQS's
 *   redrives of AcceptQueue messages included;
 * - with a protection verdict (`protection`), every (account, region) ends `protected` — Enabled under
 *   this administrator with its plans equal to the profile — or sits in the DLQ with a reason;
 * - no message is left in flight or waiting in the source queues (every function's: OnboardingQueue,
 *   RetryQueue and AcceptQueue);
 * - no (account, region) received a second invitation;
 * - every malformed input is in the DLQ verbatim, and none of its batch siblings was harmed.
 */

import { INVALID_MESSAGE, REDRIVEN_BY_SQS } from "#shared/dead-letter";
import { parseMessage } from "#shared/message";
import type { DeadLetter } from "../local/summary.ts";

export interface RunEnd {
  /** Accounts the valid messages named. */
  readonly accounts: readonly string[];
  readonly regions: readonly string[];
  status(accountId: string, region: string): string | undefined;
  invitations(accountId: string, region: string): number;
  readonly deadLetters: readonly DeadLetter[];
  /** Source queues of every function (AcceptQueue included): visible + in flight + delayed. */
  readonly leftInSourceQueues: Readonly<Record<string, number>>;
  /**
   * The member side ran (invitation mode, acceptance on): a pair is onboarded only once Enabled, and the
   * invariant `everyPairEnabledOrDeadLettered` is checked.
   */
  readonly requireEnabled?: boolean;
  /**
   * The protection verdict of a pair (shared/coverage.ts `pairVerdict`): when given, the
   * invariant `everyPairProtectedOrDeadLettered` is checked — protection is the end state.
   */
  readonly protection?: (accountId: string, region: string) => string;
  readonly drained: boolean;
  readonly malformed: readonly string[];
  /** The function's JSON log lines. */
  readonly logs: readonly Record<string, unknown>[];
}

export interface InvariantResult {
  readonly invariants: {
    readonly everyPairInvitedOrDeadLettered: boolean;
    /** Only with `requireEnabled`. */
    readonly everyPairEnabledOrDeadLettered?: boolean;
    /** Only with `protection`. */
    readonly everyPairProtectedOrDeadLettered?: boolean;
    readonly nothingLeftInSourceQueues: boolean;
    readonly noSecondInvitation: boolean;
    readonly malformedDeadLetteredVerbatim: boolean;
    readonly batchSiblingsUnharmed: boolean;
  };
  /** Per invariant, examples of what breached it (empty when it holds). */
  readonly breaches: Readonly<Record<string, readonly string[]>>;
  /**
   * (account, region) pairs not onboarded (Enabled, with `requireEnabled`; else Invited or Enabled) but
   * dead-lettered, by reason (SQS redrives: {@link REDRIVEN_BY_SQS}).
   */
  readonly deadLetteredPairs: Readonly<Record<string, number>>;
  /** Pairs that ended onboarded and yet have a dead letter: noise an operator would chase. */
  readonly needlesslyDeadLettered: Readonly<Record<string, number>>;
}

const ONBOARDED = new Set(["Invited", "Enabled"]);
const EXAMPLES = 5;

/**
 * The account and regions a dead letter is about: its `accountId` and `region`, or what a redriven
 * original body asks for (an OnboardingQueue or RetryQueue request, or an AcceptQueue one resuming at
 * acceptance) — its regions, or every region when it names none.
 */
function subjectOf(
  letter: DeadLetter,
  regions: readonly string[],
): { accountId: string; regions: readonly string[] } | undefined {
  if (letter.accountId)
    return { accountId: letter.accountId, regions: letter.region ? [letter.region] : regions };
  if (letter.reason !== REDRIVEN_BY_SQS) return undefined;
  try {
    const parsed = parseMessage(typeof letter.body === "string" ? letter.body : JSON.stringify(letter.body));
    if (parsed.kind !== "request") return undefined;
    const named = parsed.request.regions?.filter((region) => regions.includes(region));
    return { accountId: parsed.request.accountId, regions: named?.length ? named : regions };
  } catch {
    return undefined;
  }
}

export function checkInvariants(end: RunEnd): InvariantResult {
  // `${accountId}/${region}` → reason.
  const reasons = new Map<string, string>();
  for (const letter of end.deadLetters) {
    const subject = subjectOf(letter, end.regions);
    if (!subject || !letter.reason) continue;
    for (const region of subject.regions) reasons.set(`${subject.accountId}/${region}`, letter.reason);
  }
  const invitedOrEnabled = (accountId: string, region: string) =>
    ONBOARDED.has(end.status(accountId, region) ?? "");
  const enabled = (accountId: string, region: string) => end.status(accountId, region) === "Enabled";
  const onboarded = end.requireEnabled ? enabled : invitedOrEnabled;
  const settled = (accountId: string, region: string) =>
    onboarded(accountId, region) || reasons.has(`${accountId}/${region}`);
  const invitedOrDeadLettered = (accountId: string, region: string) =>
    invitedOrEnabled(accountId, region) || reasons.has(`${accountId}/${region}`);

  const unsettled: string[] = [];
  const notEnabled: string[] = [];
  const notProtected: string[] = [];
  const twice: string[] = [];
  const deadLetteredPairs: Record<string, number> = {};
  const needlesslyDeadLettered: Record<string, number> = {};
  for (const accountId of end.accounts) {
    for (const region of end.regions) {
      const status = end.status(accountId, region) ?? "not a member";
      if (!invitedOrDeadLettered(accountId, region))
        unsettled.push(`${accountId} ${region}: ${status}, not in the DLQ`);
      if (end.requireEnabled && !settled(accountId, region))
        notEnabled.push(`${accountId} ${region}: ${status}, not in the DLQ`);
      const verdict = end.protection?.(accountId, region);
      if (verdict !== undefined && verdict !== "protected" && !reasons.has(`${accountId}/${region}`))
        notProtected.push(`${accountId} ${region}: ${verdict}, not in the DLQ`);
      const invitations = end.invitations(accountId, region);
      if (invitations > 1) twice.push(`${accountId} ${region}: ${invitations} invitations`);
      const reason = reasons.get(`${accountId}/${region}`);
      if (reason === undefined) continue;
      const counts = onboarded(accountId, region) ? needlesslyDeadLettered : deadLetteredPairs;
      counts[reason] = (counts[reason] ?? 0) + 1;
    }
  }

  const left = Object.entries(end.leftInSourceQueues)
    .filter(([, count]) => count > 0)
    .map(([queue, count]) => `${queue}: ${count} messages`);
  if (!end.drained) left.push("the source queues did not drain before the timeout");

  const verbatim = new Set(
    end.deadLetters.flatMap((letter) => {
      const raw = (letter.body as { raw?: unknown } | null)?.raw;
      if (letter.reason === INVALID_MESSAGE && typeof raw === "string") return [raw];
      // A malformed body SQS itself redrove (its batch kept crashing) is the original body; the DLQ
      // reader parsed it if it was JSON, so it is compared as JSON.
      if (letter.reason !== REDRIVEN_BY_SQS) return [];
      return [typeof letter.body === "string" ? letter.body : JSON.stringify(letter.body)];
    }),
  );
  const missing = end.malformed
    .filter((body) => !verbatim.has(body) && !verbatim.has(asJson(body)))
    .map((body) => `not in the DLQ: ${body}`);
  // A malformed body shares an onboard invocation with its siblings, not the member side's (AcceptQueue
  // carries only what the router wrote): what it could harm is their administrator side.
  const harmed = harmedSiblings(end, invitedOrDeadLettered);

  return {
    invariants: {
      everyPairInvitedOrDeadLettered: unsettled.length === 0,
      ...(end.requireEnabled ? { everyPairEnabledOrDeadLettered: notEnabled.length === 0 } : {}),
      ...(end.protection ? { everyPairProtectedOrDeadLettered: notProtected.length === 0 } : {}),
      nothingLeftInSourceQueues: left.length === 0,
      noSecondInvitation: twice.length === 0,
      malformedDeadLetteredVerbatim: missing.length === 0,
      batchSiblingsUnharmed: harmed.length === 0,
    },
    breaches: {
      everyPairInvitedOrDeadLettered: unsettled.slice(0, EXAMPLES),
      ...(end.requireEnabled ? { everyPairEnabledOrDeadLettered: notEnabled.slice(0, EXAMPLES) } : {}),
      ...(end.protection ? { everyPairProtectedOrDeadLettered: notProtected.slice(0, EXAMPLES) } : {}),
      nothingLeftInSourceQueues: left,
      noSecondInvitation: twice.slice(0, EXAMPLES),
      malformedDeadLetteredVerbatim: missing.slice(0, EXAMPLES),
      batchSiblingsUnharmed: harmed.slice(0, EXAMPLES),
    },
    deadLetteredPairs,
    needlesslyDeadLettered,
  };
}

/** A body re-serialised as JSON (itself when it is not JSON). */
function asJson(body: string): string {
  try {
    return JSON.stringify(JSON.parse(body));
  } catch {
    return body;
  }
}

/**
 * Siblings of a malformed message: the accounts decided in the same invocation (Powertools stamps each
 * line with `function_request_id`). Harmed: dead-lettered as if invalid themselves, or neither invited
 * nor dead-lettered.
 */
function harmedSiblings(end: RunEnd, settled: (accountId: string, region: string) => boolean): string[] {
  const invocations = new Set<unknown>(
    end.logs.filter((line) => line.reason === INVALID_MESSAGE).map((line) => line.function_request_id),
  );
  invocations.delete(undefined);
  const harmed: string[] = [];
  for (const line of end.logs) {
    if (!invocations.has(line.function_request_id)) continue;
    const { accountId, region, reason } = line as { accountId?: unknown; region?: unknown; reason?: unknown };
    if (typeof accountId !== "string" || typeof region !== "string") continue;
    if (reason === INVALID_MESSAGE || !settled(accountId, region))
      harmed.push(
        `${accountId} ${region}, sibling of a malformed message: ${String(reason ?? "not settled")}`,
      );
  }
  return harmed;
}
