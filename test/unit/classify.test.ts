import { describe, expect, it } from "vitest";
import { classifyDelegationError, classifyError, classifyResult, reasonTable } from "#shared/classify";

describe("classifyResult (UnprocessedAccounts[].Result)", () => {
  it.each([
    // Already ours: idempotent success, so duplicate deliveries never send a second invitation.
    [
      "The request is rejected because the given account ID is already a member of the current account.",
      "already",
      "already-member",
    ],
    [
      "The request is rejected because the current account has already invited or is already the GuardDuty master of the given member account ID.",
      "already",
      "already-member",
    ],
    [
      "The request is rejected because the current account has already invited or is already the GuardDuty administrator of the given member account ID.",
      "already",
      "already-member",
    ],
    ["ACCOUNT ALREADY INVITED", "already", "already-member"],
    // Someone else's: permanent.
    [
      "The request is rejected because the input account ID is already a member of another master account.",
      "dead-letter",
      "already-member-of-another-administrator",
    ],
    [
      "The account is already a member of a different administrator account",
      "dead-letter",
      "already-member-of-another-administrator",
    ],
    [
      "The request is rejected because the current account cannot invite itself.",
      "skipped",
      "administrator-account",
    ],
    ["The member account's email address is missing", "retry", "email-missing"],
    ["The member account's Email Address Is Missing.", "retry", "email-missing"],
    [
      "Operation failed because your organization master must first enable GuardDuty to be added as a member",
      "dead-letter",
      "organization-administrator-not-enabled",
    ],
    [
      "Operation failed because your organization administrator must first enable GuardDuty to be added as a member",
      "dead-letter",
      "organization-administrator-not-enabled",
    ],
    ["Internal error", "retry", "guardduty-internal-error"],
    ["INTERNAL ERROR", "retry", "guardduty-internal-error"],
    [
      "The request is rejected because the number of members cannot exceed the maximum number of allowed members.",
      "dead-letter",
      "member-limit-reached",
    ],
    [
      "The request is rejected because the input account ID is not associated with the current account.",
      "retry",
      "member-not-created",
    ],
    ["The request is rejected since the input email address is invalid.", "dead-letter", "invalid-email"],
  ])("%s → %s (%s)", (text, verdict, reason) => {
    expect(classifyResult(text)).toEqual({ verdict, reason });
  });

  it("retries a text no rule knows, so it is dead-lettered only once attempts are spent", () => {
    expect(classifyResult("Something GuardDuty never said before")).toEqual({
      verdict: "retry",
      reason: "unrecognized-result",
    });
    expect(classifyResult(undefined)).toEqual({ verdict: "retry", reason: "unrecognized-result" });
  });
});

describe("classifyError (SDK errors after the SDK's own retries)", () => {
  const error = (name: string, status?: number) =>
    Object.assign(new Error(`${name} happened`), { name, $metadata: { httpStatusCode: status } });

  it.each([
    [error("TooManyRequestsException", 429), "retry", "throttled"],
    [error("SomethingNew", 429), "retry", "throttled"],
    [error("TooManyRequestsException", 400), "retry", "throttled"],
    [error("ConcurrentModificationException", 400), "retry", "concurrent-modification"],
    [error("InternalServerErrorException", 500), "retry", "service-unavailable"],
    [error("ServiceException", 503), "retry", "service-unavailable"],
    [error("TimeoutError"), "retry", "service-unavailable"],
    [error("AbortError"), "retry", "service-unavailable"],
    [
      Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), { code: "ECONNREFUSED" }),
      "retry",
      "service-unavailable",
    ],
    [error("AccountNotFoundException", 400), "dead-letter", "not-in-organization"],
    [error("AWSOrganizationsNotInUseException", 400), "dead-letter", "not-in-organization"],
    [error("AccessDeniedException", 403), "dead-letter", "access-denied"],
    [error("BadRequestException", 400), "dead-letter", "rejected-by-guardduty"],
  ])("%s → %s (%s)", (thrown, verdict, reason) => {
    expect(classifyError(thrown)).toEqual({ verdict, reason });
  });
});

describe("classifyDelegationError (organization mode's DescribeOrganizationConfiguration)", () => {
  const error = (name: string, status: number, message: string) =>
    Object.assign(new Error(message), { name, $metadata: { httpStatusCode: status } });

  it.each([
    [
      error(
        "BadRequestException",
        400,
        "The request failed because you do not have required AWS Organization master permission.",
      ),
      "dead-letter",
      "not-delegated-administrator",
    ],
    [
      error("BadRequestException", 400, "The given account ID is not the GuardDuty delegated administrator."),
      "dead-letter",
      "not-delegated-administrator",
    ],
    [
      error("BadRequestException", 400, "an invalid or out-of-range value"),
      "dead-letter",
      "rejected-by-guardduty",
    ],
    [
      error("InternalServerErrorException", 500, "organization master permission"),
      "retry",
      "service-unavailable",
    ],
    [error("AccessDeniedException", 403, "not authorized to perform"), "dead-letter", "access-denied"],
  ])("%s → %s (%s)", (thrown, verdict, reason) => {
    expect(classifyDelegationError(thrown)).toEqual({ verdict, reason });
  });
});

describe("reasonTable", () => {
  it("lists every reason code once, each in kebab-case with an operator action", () => {
    const rows = reasonTable();

    expect(new Set(rows.map((row) => row.reason)).size).toBe(rows.length);
    for (const row of rows) {
      expect(row.reason).toMatch(/^[a-z]+(-[a-z]+)*$/);
      expect(row.action.length).toBeGreaterThan(10);
    }
    expect(rows.map((row) => row.reason)).toEqual(
      expect.arrayContaining([
        "already-member-of-another-administrator",
        "not-in-organization",
        "guardduty-not-enabled-in-region",
        "member-limit-reached",
        "invalid-message",
        "retries-exhausted",
      ]),
    );
  });
});
