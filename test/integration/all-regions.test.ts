import { CreateDetectorCommand, GuardDutyClient } from "@aws-sdk/client-guardduty";
import { afterEach, describe, expect, it } from "vitest";
import type { LocalStack } from "../../local/local-stack.ts";
import { runReconcile } from "../../local/reconcile.ts";
import { ADMINISTRATOR_ACCESS_KEY_ID } from "../../sandbox/identity.ts";
import { guardDutyRegions } from "../../shared/managed-regions.ts";
import { accountIds } from "../support/events.ts";
import { onboardAccounts, operatorCoverage, startTestStack } from "../support/local.ts";

/**
 * Stage parameter `regions: all` across the wire: the functions discover the regions where the
 * administrator has GuardDuty enabled (account:ListRegions of its own account, ListDetectors in each
 * enabled region) with their own roles' policies, onboard there and nowhere else; when the
 * administrator enables GuardDuty in another region, the next reconcile discovers it and its repairs
 * onboard every account there, without a redeploy.
 */
const MANAGED = ["eu-west-1", "us-east-1"];
const LATER = "us-west-2";
let local: LocalStack | undefined;

afterEach(async () => {
  await local?.stop();
  local = undefined;
});

/** The regions where `accountId` is a member of the administrator, and its status there. */
function membership(stack: LocalStack, accountId: string): Record<string, string> {
  return Object.fromEntries(
    guardDutyRegions("aws").flatMap((region) => {
      const status = stack.sandbox.status(accountId, region);
      return status ? [[region, status]] : [];
    }),
  );
}

describe("regions all", () => {
  it("onboards into the regions where the administrator has GuardDuty, and into a region it enables later from the next reconcile on", async () => {
    // Prepare: the administrator has a detector in us-east-1 and eu-west-1 only.
    const ids = accountIds(2, 660000000000);
    local = await startTestStack(ids, {
      regions: "all",
      sandbox: {
        accountCount: 0,
        regionsWithoutDetector: guardDutyRegions("aws").filter((region) => !MANAGED.includes(region)),
      },
    });
    const stack = local;

    // Act 1: the accounts are created.
    await onboardAccounts(stack, ids);

    // Assess 1: members (accepted) in the discovered regions only.
    for (const id of ids)
      expect(membership(stack, id), id).toEqual({ "eu-west-1": "Enabled", "us-east-1": "Enabled" });
    expect(stack.sandbox.counters.calls("ListRegions")).toBeGreaterThan(0);
    expect(stack.sandbox.counters.calls("ListDetectors", "ap-south-1")).toBeGreaterThan(0);
    expect(stack.sandbox.counters.calls("CreateMembers", "ap-south-1")).toBe(0);

    // Act 2: the administrator enables GuardDuty in us-west-2 (its own CreateDetector), then the
    // reconcile runs with its role; the onboard function's containers still hold their discovery.
    const administrator = new GuardDutyClient({
      endpoint: stack.sandbox.url,
      region: LATER,
      credentials: { accessKeyId: ADMINISTRATOR_ACCESS_KEY_ID, secretAccessKey: "local" },
    });
    await administrator.send(new CreateDetectorCommand({ Enable: true }));
    const discoveries = stack.sandbox.counters.calls("ListRegions");
    const report = await runReconcile(stack, { runId: "schedule-all-regions" });
    await stack.drained(60_000);

    // Assess 2: the reconcile discovered us-west-2 and enqueued each account there; the onboard
    // function, handed repairs newer than its discovery in a region it did not manage, discovered again
    // (before its TTL) and onboarded them.
    expect(stack.sandbox.counters.calls("ListRegions") - discoveries).toBeGreaterThanOrEqual(2);
    expect(report.regions).toContain(LATER);
    expect(report.summary.byVerdict["not-a-member"]).toBeGreaterThanOrEqual(ids.length);
    expect(report.repairs["not-a-member"]).toBe(report.summary.byVerdict["not-a-member"]);
    for (const id of ids)
      expect(membership(stack, id), id).toEqual({
        "eu-west-1": "Enabled",
        "us-east-1": "Enabled",
        [LATER]: "Enabled",
      });

    // Assess 3: the operator's coverage discovers the same regions, and every pair is protected.
    const coverage = await operatorCoverage(stack);
    expect(Object.keys(coverage.byRegion).sort()).toEqual([...MANAGED, LATER].sort());
    expect(coverage.coverage).toBe(1);
    // Every call was made under the policies a deployment with regions all would give its caller.
    expect(stack.sandbox.counters.denied()).toBe(0);
  });
});
