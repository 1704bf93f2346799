import { afterEach, describe, expect, it } from "vitest";
import type { LocalStack } from "../../local/local-stack.ts";
import { runReconcile } from "../../local/reconcile.ts";
import { peekDeadLetters } from "../../local/summary.ts";
import { accountIds } from "../support/events.ts";
import { onboardAccounts, startTestStack } from "../support/local.ts";

/**
 * A pair whose dead letter waits in the DLQ is reported by the reconcile, not enqueued again by every
 * run: the onboard function records the dead letters SQS confirmed (DeadLetterIndexTable, a real
 * DynamoDB-protocol server), the reconcile reads them before it enqueues its repairs.
 */
let local: LocalStack | undefined;

afterEach(async () => {
  await local?.stop();
  local = undefined;
});

describe("reconcile and the DLQ", () => {
  it("reports a pair already waiting in the DLQ instead of enqueuing it again, run after run", async () => {
    // Prepare: two accounts; `taken` is a member of another administrator in us-east-1 (permanent).
    const [onboarded, taken] = accountIds(2, 660000000000) as [string, string];
    local = await startTestStack([onboarded, taken], {
      regions: ["us-east-1"],
      sandbox: { accountCount: 0, membersOfOtherAdministrator: [{ accountId: taken }] },
    });
    const stack = local;
    await onboardAccounts(stack, [onboarded, taken, stack.sandbox.managementAccountId]);
    const dlq = stack.sqs.urls.DeadLetterQueue as string;
    const before = await peekDeadLetters(stack.sqs.client, dlq);
    const createMembers = stack.sandbox.counters.calls("CreateMembers", "us-east-1");

    // Act: two scheduled runs, each drained.
    const first = await runReconcile(stack, { runId: "schedule-dlq-1" });
    await stack.drained(60_000);
    const second = await runReconcile(stack, { runId: "schedule-dlq-2" });
    await stack.drained(60_000);

    // Assess: the pair is not protected, waits in the DLQ once, and neither run enqueued it again.
    expect(before.map(({ accountId, reason }) => ({ accountId, reason }))).toEqual([
      { accountId: taken, reason: "already-member-of-another-administrator" },
    ]);
    for (const report of [first, second]) {
      expect(report.summary).toMatchObject({ desired: 3, protected: 2 });
      expect(report.waitingInDeadLetterQueue).toBe(1);
      expect(report.repairs).toEqual({});
    }
    expect(await peekDeadLetters(stack.sqs.client, dlq)).toHaveLength(1);
    expect(stack.sandbox.counters.calls("CreateMembers", "us-east-1")).toBe(createMembers);
  });
});
