import { afterEach, describe, expect, it } from "vitest";
import type { LocalStack } from "../../local/local-stack.ts";
import { runReconcile } from "../../local/reconcile.ts";
import { peekDeadLetters } from "../../local/summary.ts";
import { accountIds } from "../support/events.ts";
import { onboardAccounts, operatorCoverage, startTestStack } from "../support/local.ts";

/**
 * Opt-in regions across the wire: an account that has not enabled a managed opt-in region is
 * `region-not-enabled-for-account` there — read with account:ListRegions by the operator's
 * `gd-onboard coverage` and by the reconcile function, each with its own policies — not a gap: coverage
 * is 1 over the other pairs and nothing is enqueued for it (its invitation, sent before, was dead-lettered
 * at the member side). Once it opts in, the next reconcile repairs it and the pair is protected.
 */
const OPT_IN = "af-south-1";
const REGIONS = ["us-east-1", OPT_IN];
let local: LocalStack | undefined;

afterEach(async () => {
  await local?.stop();
  local = undefined;
});

describe("opt-in regions", () => {
  it("reports an account that has not opted in as region-not-enabled-for-account, and the reconcile after it opts in onboards it", async () => {
    // Prepare: three accounts; every one but `optedOut` (and the stack's own accounts) enabled af-south-1.
    const ids = accountIds(3, 650000000000);
    const optedOut = ids[2] as string;
    local = await startTestStack(ids, { regions: REGIONS, sandbox: { accountCount: 0 } });
    const stack = local;
    const { sandbox } = stack;
    for (const id of [sandbox.administratorAccountId, sandbox.managementAccountId, ...ids.slice(0, 2)])
      sandbox.enableRegion(id, OPT_IN);
    await onboardAccounts(stack, [...ids, sandbox.managementAccountId]);

    // Act 1: the operator's view, then a reconcile run.
    const before = await operatorCoverage(stack);
    const first = await runReconcile(stack, { runId: "schedule-opt-in-1" });

    // Assess 1: the pair is not desired, coverage is 1 over the rest, and nothing is enqueued for it.
    const desired = (ids.length + 1) * REGIONS.length - 1;
    expect(before).toMatchObject({
      desired,
      coverage: 1,
      byVerdict: { protected: desired, "region-not-enabled-for-account": 1 },
    });
    expect(before.pairs.find((pair) => pair.verdict !== "protected")).toEqual({
      accountId: optedOut,
      region: OPT_IN,
      verdict: "region-not-enabled-for-account",
      detail: "an opt-in region the account has not enabled (account:ListRegions)",
    });
    expect(first.summary).toMatchObject({ desired, ratio: 1 });
    expect(first.repairs).toEqual({});
    expect(first.notEnqueued).toBe(0);
    // Invited before it opted in: the member side could not enter the region (as AWS answers it).
    expect(sandbox.status(optedOut, OPT_IN)).toBe("Invited");
    const deadLetters = await peekDeadLetters(stack.sqs.client, stack.sqs.urls.DeadLetterQueue as string);
    expect(deadLetters.map(({ accountId, region, reason }) => ({ accountId, region, reason }))).toEqual([
      { accountId: optedOut, region: OPT_IN, reason: "access-denied" },
    ]);
    // One ListRegions per desired account, by each of the two readers; none for the regions by default.
    expect(sandbox.counters.calls("ListRegions", "us-east-1")).toBe(2 * (ids.length + 1));

    // Act 2: the account opts in; the next reconcile, then the pipeline works through its repair.
    sandbox.enableRegion(optedOut, OPT_IN);
    const second = await runReconcile(stack, { runId: "schedule-opt-in-2" });
    await stack.drained(60_000);

    // Assess 2: the pair was desired and repaired (its invitation was out: the member side accepts);
    // every pair is protected.
    expect(second.repairs).toEqual({ "invited-not-accepted": 1 });
    const after = await operatorCoverage(stack);
    expect(after).toMatchObject({ coverage: 1, desired: desired + 1, byVerdict: { protected: desired + 1 } });
    expect(sandbox.status(optedOut, OPT_IN)).toBe("Enabled");
  });
});
