/**
 * What GuardDuty's and Organizations' answers mean for one account: the whole decision is two data
 * tables, pattern → outcome → reason code. The README's reason-code table is printed from them
 * (`npm run reasons`), and a test keeps the two in step.
 */

/** Outcomes a classification can decide. `invited` / `enabled` are decided by success, not by a table. */
export type Verdict = "already" | "retry" | "dead-letter" | "skipped";

export interface Decision {
  readonly verdict: Verdict;
  /** Stable kebab-case reason code: logs, metrics, dead-letter bodies and `dlq list --reason`. */
  readonly reason: string;
}

interface Rule extends Decision {
  readonly pattern: RegExp;
  /** What an operator should do about it: printed in the README's reason table. */
  readonly action: string;
}

/**
 * `UnprocessedAccounts[].Result` texts from CreateMembers / InviteMembers (HTTP 200, per-account
 * rejections). GuardDuty words them differently across versions ("master" vs "administrator"), so
 * patterns are case-insensitive and loose; the first match wins, so specific rules come first.
 * Unknown texts are retried and, once attempts are spent, dead-lettered as `retries-exhausted`.
 */
export const UNPROCESSED_RULES: readonly Rule[] = [
  {
    pattern: /already (a )?member of (another|a different) (master|administrator)/i,
    verdict: "dead-letter",
    reason: "already-member-of-another-administrator",
    action: "The account belongs to another GuardDuty administrator. Disassociate it there, then replay.",
  },
  {
    pattern:
      /cannot invite itself|current account cannot be (a )?member|is the (current )?(master|administrator)/i,
    verdict: "skipped",
    reason: "administrator-account",
    action: "None: the administrator account is not its own member.",
  },
  {
    pattern:
      /already (a )?member|already (been )?invited|has already invited|already (the )?guardduty (master|administrator)|already associated/i,
    verdict: "already",
    reason: "already-member",
    action: "None: idempotent success (duplicate delivery or replay).",
  },
  {
    pattern: /must first enable guardduty|not enabled guardduty|guardduty is not enabled/i,
    verdict: "dead-letter",
    reason: "organization-administrator-not-enabled",
    action: "Enable GuardDuty for the organization's management account as GuardDuty asks, then replay.",
  },
  {
    pattern: /maximum number of (allowed )?members|member (account )?limit|too many members/i,
    verdict: "dead-letter",
    reason: "member-limit-reached",
    action:
      "The administrator has reached GuardDuty's member quota: raise it or remove members, then replay.",
  },
  {
    pattern: /e-?mail (address )?(is )?missing|missing e-?mail|e-?mail is required/i,
    verdict: "retry",
    reason: "email-missing",
    action: "Retried with a fresh Organizations lookup; if it persists, check the account's e-mail.",
  },
  {
    pattern: /e-?mail (address )?(is )?(invalid|not valid)|invalid e-?mail/i,
    verdict: "dead-letter",
    reason: "invalid-email",
    action: "Fix the account's e-mail in Organizations, then replay.",
  },
  {
    pattern: /not (a member of|in|part of) (the|your) organi[sz]ation|outside (the|your) organi[sz]ation/i,
    verdict: "dead-letter",
    reason: "not-in-organization",
    action: "Only organization accounts are onboarded. Check the account id.",
  },
  {
    pattern: /not associated with the current account|is not a member|member .*not found|no member/i,
    verdict: "retry",
    reason: "member-not-created",
    action: "Retried: the member record is recreated on the next attempt.",
  },
  {
    pattern: /suspended|closed|not active/i,
    verdict: "skipped",
    reason: "account-not-active",
    action: "None: suspended or closed accounts are not onboarded.",
  },
  {
    pattern: /internal (server )?error|service (is )?unavailable|try again/i,
    verdict: "retry",
    reason: "guardduty-internal-error",
    action: "Retried with backoff; GuardDuty reported a transient error.",
  },
  {
    pattern: /throttl|rate exceeded|too many requests/i,
    verdict: "retry",
    reason: "throttled",
    action: "Retried with backoff.",
  },
];

/**
 * What GuardDuty answers an account that is not the organization's delegated administrator in the region
 * when it asks for the organization configuration ("…you do not have required AWS Organization master
 * permission", seen on UpdateOrganizationConfiguration; the sandbox also words it "…is not the GuardDuty
 * delegated administrator…"). Organization mode checks it before CreateMembers: a non-delegated account's
 * CreateMembers would silently create invitation-mode members (Created), never Enabled ones.
 */
export const NOT_DELEGATED_ADMINISTRATOR: Rule = {
  pattern:
    /organi[sz]ation master permission|not the (guardduty )?delegated administrator|not (a|the) delegated admin/i,
  verdict: "dead-letter",
  reason: "not-delegated-administrator",
  action:
    "Organization mode, but the stack's account is not GuardDuty's delegated administrator in this region: from the management account run `aws guardduty enable-organization-admin-account --admin-account-id <stack account> --region <region>` (or deploy with membershipMode=invitation), then replay.",
};

/**
 * Classifies the answer to the organization-mode check (DescribeOrganizationConfiguration): a 4xx whose
 * text says the caller is not the delegated administrator is `not-delegated-administrator`; anything
 * else as any other error.
 */
export function classifyDelegationError(error: unknown): Decision {
  const { message = "", $metadata } = (error ?? {}) as ErrorLike;
  const status = $metadata?.httpStatusCode ?? 0;
  const decision = classifyError(error);
  if (
    (decision.reason === "rejected-by-guardduty" || (status >= 400 && status < 500)) &&
    NOT_DELEGATED_ADMINISTRATOR.pattern.test(message)
  ) {
    return { verdict: NOT_DELEGATED_ADMINISTRATOR.verdict, reason: NOT_DELEGATED_ADMINISTRATOR.reason };
  }
  return decision;
}

/** A result text no rule knows: retried while attempts remain (then `retries-exhausted`). */
export const UNKNOWN_RESULT: Decision = { verdict: "retry", reason: "unrecognized-result" };

/** Classifies one `UnprocessedAccounts[].Result` text. */
export function classifyResult(result: string | undefined): Decision {
  const rule = UNPROCESSED_RULES.find(({ pattern }) => pattern.test(result ?? ""));
  return rule ? { verdict: rule.verdict, reason: rule.reason } : UNKNOWN_RESULT;
}

/** The parts of an AWS SDK v3 error (a `ServiceException`, or a network/timeout error) that decide. */
export interface ErrorLike {
  readonly name?: string;
  readonly message?: string;
  readonly $metadata?: { readonly httpStatusCode?: number };
  readonly $retryable?: unknown;
}

/** The error names that mean "slow down", whatever the service calls them (GuardDuty, Organizations, STS). */
export const THROTTLING_ERRORS: readonly string[] = [
  "TooManyRequestsException",
  "ThrottlingException",
  "Throttling",
  "RequestLimitExceeded",
];

/** Whether an error is a throttle: by name, or by HTTP 429. */
export function isThrottling(error: unknown): boolean {
  const { name = "", $metadata } = (error ?? {}) as ErrorLike;
  return THROTTLING_ERRORS.includes(name) || $metadata?.httpStatusCode === 429;
}

interface ErrorRule extends Decision {
  readonly names?: readonly string[];
  readonly status?: (status: number) => boolean;
  readonly action: string;
}

/**
 * Errors thrown by GuardDuty and Organizations calls, after the SDK's own retries are spent.
 * Matched by error name first, then HTTP status. A 400 from a multi-account GuardDuty call never gets
 * here for the whole chunk: the caller isolates the offending account first (see `members.ts`).
 */
export const ERROR_RULES: readonly ErrorRule[] = [
  {
    names: ["AccountNotFoundException", "AWSOrganizationsNotInUseException"],
    verdict: "dead-letter",
    reason: "not-in-organization",
    action: "Only accounts of the organization are onboarded. Check the account id.",
  },
  {
    names: THROTTLING_ERRORS,
    status: (status) => status === 429,
    verdict: "retry",
    reason: "throttled",
    action: "Retried with backoff once the SDK's own retries were spent.",
  },
  {
    names: ["ConcurrentModificationException"],
    verdict: "retry",
    reason: "concurrent-modification",
    action: "Retried with backoff (Organizations; the SDK does not retry it).",
  },
  {
    names: ["AccessDeniedException", "AccessDenied", "UnrecognizedClientException", "ExpiredTokenException"],
    status: (status) => status === 403,
    verdict: "dead-letter",
    reason: "access-denied",
    action:
      "The function's role lacks a permission (the detail names it), or the region is not enabled for the account: fix serverless.yml's role or enable the region, then replay.",
  },
  {
    names: ["BadRequestException", "InvalidInputException", "ConstraintViolationException"],
    status: (status) => status >= 400 && status < 500,
    verdict: "dead-letter",
    reason: "rejected-by-guardduty",
    action: "GuardDuty refused the request for this account (see detail). Fix the cause, then replay.",
  },
];

/** 5xx, timeouts, aborted and network errors: transient by nature. */
export const UNAVAILABLE: Decision = { verdict: "retry", reason: "service-unavailable" };

/** Classifies an error thrown by an AWS call. Anything unrecognised is transient until proven otherwise. */
export function classifyError(error: unknown): Decision {
  const { name = "", $metadata } = (error ?? {}) as ErrorLike;
  const status = $metadata?.httpStatusCode;
  const rule =
    ERROR_RULES.find((candidate) => candidate.names?.includes(name)) ??
    (status !== undefined ? ERROR_RULES.find((candidate) => candidate.status?.(status)) : undefined);
  return rule ? { verdict: rule.verdict, reason: rule.reason } : UNAVAILABLE;
}

/**
 * Reason codes decided elsewhere than the tables, listed here so that the README table is complete.
 */
export const OTHER_REASONS: readonly (Decision & { readonly action: string })[] = [
  {
    verdict: "dead-letter",
    reason: "invalid-message",
    action: "The body is kept verbatim in `raw`: fix the producer; replay only if it was a real request.",
  },
  {
    verdict: "dead-letter",
    reason: "retries-exhausted",
    action:
      "A transient cause persisted for every attempt (see `lastError`): check GuardDuty health and throttles, then replay.",
  },
  {
    verdict: "dead-letter",
    reason: "guardduty-not-enabled-in-region",
    action: "The administrator has no detector in this region: enable GuardDuty there, then replay.",
  },
  {
    verdict: "dead-letter",
    reason: "member-role-not-assumable",
    action:
      "The member account has no role `memberRoleName` that trusts the accept function's role (OrganizationAccountAccessRole trusts only the management account): deploy member-role/template.yml there (a StackSet over the organization), then replay — it resumes at acceptance.",
  },
  {
    verdict: "retry",
    reason: "invitation-not-found",
    action:
      "Retried: the invitation has not reached the member account yet. If it persists, check GuardDuty in the member account, then replay.",
  },
  {
    verdict: "retry",
    reason: "member-not-associated",
    action:
      'Retried at verification (`"step":"verify"`): GuardDuty does not list the member Enabled yet (just created or accepted, or its invitation still pending), or it stays Disabled after StartMonitoringMembers (the member suspended its own detector: enable it in that account). If it persists, see `gd-onboard status`.',
  },
  {
    verdict: "retry",
    reason: "plans-differ",
    action:
      "Retried: the member's plans read back differ from the profile after UpdateMemberDetectors (the detail names each). If it persists, a plan may not be offered in that region: drop it from the region's profile (`protectionPlans.regions`), then replay.",
  },
  {
    verdict: "skipped",
    reason: "account-not-created",
    action: "None: the event reports a failed account creation.",
  },
  {
    verdict: "skipped",
    reason: "lifecycle-event-ignored",
    action:
      "None: the lifecycle event asks for nothing (a failed call, a handshake that is not an invitation, a closure that did not succeed).",
  },
  {
    verdict: "skipped",
    reason: "offboarding-disabled",
    action:
      'None: the stage parameter `offboardDepartedAccounts` is "false", so a departed account\'s members are left as they are. Remove them with `aws guardduty disassociate-members` and `delete-members` if you want to.',
  },
  {
    verdict: "skipped",
    reason: "auto-enable-all-keeps-member",
    action:
      "The organization's auto-enable is ALL, under which GuardDuty refuses to disassociate or delete organization members: the account leaves GuardDuty when it leaves the organization. To remove it sooner, set auto-enable to NEW (UpdateOrganizationConfiguration), then replay.",
  },
  {
    verdict: "skipped",
    reason: "region-not-configured",
    action: "The request names only regions this stage does not manage.",
  },
  {
    ...UNAVAILABLE,
    action: "Retried with backoff: GuardDuty or Organizations answered 5xx, timed out or was unreachable.",
  },
  {
    ...UNKNOWN_RESULT,
    action: "Retried; after the last attempt dead-lettered as `retries-exhausted` with the text.",
  },
];

/** Every reason code with its outcome and operator action, one row per code (README table). */
export function reasonTable(): { reason: string; verdict: Verdict; action: string }[] {
  const rows = new Map<string, { reason: string; verdict: Verdict; action: string }>();
  for (const { reason, verdict, action } of [
    ...UNPROCESSED_RULES,
    ...ERROR_RULES,
    NOT_DELEGATED_ADMINISTRATOR,
    ...OTHER_REASONS,
  ]) {
    if (!rows.has(reason)) rows.set(reason, { reason, verdict, action });
  }
  return [...rows.values()];
}

/** The README's reason-code table, in Markdown (`npm run reasons`). */
export function reasonTableMarkdown(): string {
  const rows = reasonTable().map(
    ({ reason, verdict, action }) => `| \`${reason}\` | ${verdict} | ${action} |`,
  );
  return ["| reason | outcome | what to do |", "| --- | --- | --- |", ...rows].join("\n");
}
