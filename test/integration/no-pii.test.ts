import { afterEach, describe, expect, it } from "vitest";
import { accountCreatedEvent, publish } from "../../local/inputs.ts";
import { type LocalStack, startLocalStack } from "../../local/local-stack.ts";
import { accountIds, onboardingRequest, organizationsEvent } from "../support/events.ts";

/**
 * Account e-mails are PII (README, "Monitoring"): no line the function writes may carry one, whatever the input and
 * whatever GuardDuty or Organizations answer. One full local run through every kind of outcome, every
 * line captured as the Lambda runtime would ship it to CloudWatch Logs.
 */
const REGIONS = ["us-east-1", "eu-west-1"];
/** Anything shaped like an e-mail address, in any JSON-escaped form. */
const EMAIL = /[\w.+-]+@[\w-]+(\.[\w-]+)+/;

let local: LocalStack | undefined;

afterEach(async () => {
  await local?.stop();
  local = undefined;
});

describe("function logs", () => {
  it("never contain an e-mail address, across invitations, rejections, retries and malformed input", async () => {
    // Prepare: accounts for each outcome, and inputs that themselves carry e-mail addresses.
    const [invited, managedElsewhere, tooLongEmail, noEmail, suspended, outsider] = accountIds(
      6,
      340000000000,
    ) as [string, string, string, string, string, string];
    const lines: string[] = [];
    local = await startLocalStack({
      regions: REGIONS,
      // A 1 s batching window and two deliveries at most keep the run short; the rest is serverless.yml's.
      eventSourceSettings: { maximumBatchingWindowSeconds: 1 },
      params: { maxAttempts: "2" },
      onLog: (line) => lines.push(line),
      sandbox: {
        seed: 11,
        accountCount: 3,
        accounts: [
          { id: invited },
          { id: managedElsewhere },
          // Over GuardDuty's 64-character limit: CreateMembers rejects the account.
          { id: tooLongEmail, email: `${"very-long-mailbox-name-".repeat(3)}${tooLongEmail}@example.com` },
          { id: noEmail, email: "" },
          { id: suspended, status: "SUSPENDED" },
        ],
        membersOfOtherAdministrator: [{ accountId: managedElsewhere, regions: ["eu-west-1"] }],
      },
    });
    const failedCreation = organizationsEvent("123456789012", { state: "FAILED" });
    Object.assign(
      (failedCreation.detail as { serviceEventDetails: { createAccountStatus: Record<string, string> } })
        .serviceEventDetails.createAccountStatus,
      { accountName: "finance@example.com", failureReason: "EMAIL_ALREADY_EXISTS" },
    );

    // Act
    await publish(local.sqs.client, local.sqs.urls.OnboardingQueue as string, [
      ...[invited, managedElsewhere, tooLongEmail, noEmail, suspended].map((id) => accountCreatedEvent(id)),
      JSON.stringify(onboardingRequest(outsider)),
      JSON.stringify(failedCreation),
      // Malformed: cut-off JSON, and a well-formed request whose fields hold e-mail addresses.
      `{"version":1,"accountId":"${invited}","email":"leak-1@example.com"`,
      JSON.stringify({ version: 1, accountId: "leak-2@example.com", attempt: 0, origin: "manual" }),
      JSON.stringify({ version: 1, accountId: invited, regions: ["leak-3@example.com"], origin: "manual" }),
    ]);
    await local.drained(30_000);

    // Assess: the run went through every outcome, and not one line names an e-mail.
    const outcomes = new Set(lines.flatMap((line) => parseLine(line)?.outcome ?? []));
    expect([...outcomes]).toEqual(expect.arrayContaining(["dead-letter", "retry", "skipped"]));
    expect(local.sandbox.status(invited, "us-east-1")).toBeDefined();
    expect(lines.length).toBeGreaterThan(10);
    expect(lines.filter((line) => EMAIL.test(line))).toEqual([]);
  });
});

function parseLine(line: string): { outcome?: string } | undefined {
  try {
    return JSON.parse(line) as { outcome?: string };
  } catch {
    return undefined;
  }
}
