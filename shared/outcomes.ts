/**
 * The outcome vocabulary of one (account, region) (README, "What it does, precisely"). Logs,
 * metrics, routing and the local summary all speak it; this module owns it.
 */

/**
 * - `invited`: the administrator's invitation went out (invitation mode); the member side follows.
 * - `enabled`: a member of this administrator, monitored (the member accepted); its plans are verified next.
 * - `protected`: Enabled under this administrator and its plans read back equal to the profile (the end).
 * - `already`: nothing to do, it was done before (duplicate delivery, replay).
 * - `retry`: transient; the request goes to a retry queue with backoff.
 * - `dead-letter`: permanent (or retries spent); one message per (account, region) on the DLQ.
 * - `offboarded`: a departed or closed account's member disassociated and deleted (or already gone).
 * - `skipped`: not to be onboarded (suspended or closed account, the administrator itself, a region the
 *   stage does not manage, an event about an account that was not created).
 */
export const OUTCOMES = [
  "invited",
  "enabled",
  "protected",
  "already",
  "retry",
  "dead-letter",
  "offboarded",
  "skipped",
] as const;
export type Outcome = (typeof OUTCOMES)[number];

/**
 * The step a request resumes at: `accept` is the member side (the invitation went out already); `verify`
 * is the administrator's check of an associated member's plans (shared/member-protection.ts);
 * `recreate` is the repair of a member whose invitation e-mail failed verification: its member is
 * deleted if it still is `EmailVerificationFailed`, then onboarded afresh with the account's e-mail read
 * again (shared/member-removal.ts, shared/stages/recreate-members.ts).
 */
export const STEPS = ["accept", "verify", "recreate"] as const;
export type Step = (typeof STEPS)[number];

/**
 * Whether a request goes through the administrator side's CreateMembers and InviteMembers: a fresh
 * request, or a `recreate` once its unverifiable member is gone.
 */
export function startsAtAdministrator(step: Step | undefined): boolean {
  return step === undefined || step === "recreate";
}

export interface CellOutcome {
  readonly outcome: Outcome;
  /** Stable kebab-case reason code (README, "Reason codes"). */
  readonly reason?: string;
  /** Why, in the service's words (redacted of e-mail addresses). */
  readonly detail?: string;
  /** The member's relationship status when the administrator side knows it (`Invited`, `Enabled`). */
  readonly memberStatus?: string;
  /** The step that failed, so that its retry or replay resumes there. */
  readonly step?: Step;
}

/** The log level of an outcome: a dead letter needs an operator, a retry is worth a look, the rest is news. */
export function levelOf(outcome: Outcome): "error" | "warn" | "info" {
  return outcome === "dead-letter" ? "error" : outcome === "retry" ? "warn" : "info";
}

/**
 * Whether an (account, region) still waits for its member to accept: invited now, or found invited
 * (or with its invitation e-mail being verified) by an earlier delivery.
 */
export function awaitsAcceptance({ outcome, memberStatus }: CellOutcome): boolean {
  if (outcome === "invited") return true;
  return (
    outcome === "already" && (memberStatus === "Invited" || memberStatus === "EmailVerificationInProgress")
  );
}

/**
 * Whether an (account, region) is associated under this administrator, so that its plans are verified
 * next: enabled now, or found Enabled by an earlier delivery.
 */
export function awaitsVerification({ outcome, memberStatus }: CellOutcome): boolean {
  return outcome === "enabled" || (outcome === "already" && memberStatus === "Enabled");
}
