/**
 * Account lifecycle across real wires: the lifecycle samples of events/lifecycle/ (their account ids
 * swapped for the test's), published on OnboardingQueue as the rules deliver them. A departed account's
 * members are disassociated and deleted in every region — or, under the organization's auto-enable ALL,
 * reported and left; a joined account is onboarded on the event; a tamper signal repairs the member.
 */
import { readFileSync } from "node:fs";
import { DeleteMembersCommand, DisassociateMembersCommand, GuardDutyClient } from "@aws-sdk/client-guardduty";
import {
  CloseAccountCommand,
  OrganizationsClient,
  RemoveAccountFromOrganizationCommand,
} from "@aws-sdk/client-organizations";
import { afterEach, describe, expect, it } from "vitest";
import { publish } from "../../local/inputs.ts";
import type { LocalStack } from "../../local/local-stack.ts";
import { peekDeadLetters } from "../../local/summary.ts";
import { accountIds } from "../support/events.ts";
import { onboardAccounts, startTestStack } from "../support/local.ts";

const REGIONS = ["us-east-1", "eu-west-1"];
const HUMAN_KEY = "AKIDLIFECYCLEHUMAN";
const MANAGEMENT_KEY = "AKIDLIFECYCLEMANAGEMENT";
let stack: LocalStack | undefined;

afterEach(async () => {
  await stack?.stop();
  stack = undefined;
});

/** A sample of events/lifecycle/ with its account ids replaced (`from` → `to`). */
function sample(name: string, replace: Readonly<Record<string, string>>): string {
  let text = readFileSync(`events/lifecycle/${name}.json`, "utf8");
  for (const [from, to] of Object.entries(replace)) text = text.replaceAll(from, to);
  return JSON.stringify(JSON.parse(text));
}

async function deliver(local: LocalStack, ...bodies: string[]): Promise<void> {
  await publish(local.sqs.client, local.sqs.urls.OnboardingQueue as string, bodies);
  await local.drained(60_000);
}

const statuses = (local: LocalStack, ids: readonly string[]) =>
  REGIONS.flatMap((region) => ids.map((id) => local.sandbox.status(id, region) ?? "not-a-member"));
const deadLetters = async (local: LocalStack) =>
  peekDeadLetters(local.sqs.client, local.sqs.urls.DeadLetterQueue as string);

describe("account lifecycle, end to end", () => {
  it("disassociates and deletes a departed account's members in every region, and leaves the others", async () => {
    // Prepare: three protected members.
    const [closed, removed, staying] = accountIds(3, 330000000000) as [string, string, string];
    stack = await startTestStack([closed, removed, staying], { regions: REGIONS });
    await onboardAccounts(stack, [closed, removed, staying]);
    expect(new Set(statuses(stack, [closed, removed, staying]))).toEqual(new Set(["Enabled"]));

    // Act: one account closed, one removed from the organization — by the management account, then the
    // events CloudTrail would deliver for it.
    stack.sandbox.registerCredentials(MANAGEMENT_KEY, stack.sandbox.managementAccountId);
    const organizations = new OrganizationsClient({
      region: "us-east-1",
      endpoint: stack.sandbox.url,
      credentials: { accessKeyId: MANAGEMENT_KEY, secretAccessKey: "sandbox" },
      maxAttempts: 1,
    });
    await organizations.send(new CloseAccountCommand({ AccountId: closed }));
    await organizations.send(new RemoveAccountFromOrganizationCommand({ AccountId: removed }));
    organizations.destroy();
    await deliver(
      stack,
      sample("organizations-close-account-result.service-event", { "888888888888": closed }),
      sample("organizations-remove-account-from-organization.cloudtrail-api-call", {
        "999999999999": removed,
      }),
    );

    // Assess
    expect(statuses(stack, [closed, removed])).toEqual(Array(4).fill("not-a-member"));
    expect(statuses(stack, [staying])).toEqual(["Enabled", "Enabled"]);
    for (const region of REGIONS) {
      expect(stack.sandbox.counters.calls("DisassociateMembers", region)).toBe(1);
      expect(stack.sandbox.counters.calls("DeleteMembers", region)).toBe(1);
    }
    expect(await deadLetters(stack)).toEqual([]);
  });

  it("reports, rather than fails, a departed organization member that auto-enable ALL keeps", async () => {
    // Prepare: organization mode, the organization auto-enabling ALL its members.
    const [departed] = accountIds(1, 340000000000) as [string];
    const lines: string[] = [];
    stack = await startTestStack([departed], {
      regions: REGIONS,
      params: { membershipMode: "organization" },
      sandbox: { autoEnableOrganizationMembers: "ALL" },
      onLog: (line) => lines.push(line),
    });
    await onboardAccounts(stack, [departed]);

    // Act
    await deliver(
      stack,
      sample("organizations-account-departed-organization.service-event", { "777777777777": departed }),
    );

    // Assess: still a member, reported once per region, nothing dead-lettered.
    expect(statuses(stack, [departed])).toEqual(["Enabled", "Enabled"]);
    const reported = lines.filter((line) => line.includes('"reason":"auto-enable-all-keeps-member"'));
    expect(reported.map((line) => JSON.parse(line).region).sort()).toEqual([...REGIONS].sort());
    expect(reported.every((line) => JSON.parse(line).outcome === "skipped")).toBe(true);
    expect(await deadLetters(stack)).toEqual([]);
  });

  it("onboards an account that joins by invitation on its AcceptHandshake, to Enabled in every region", async () => {
    const [joined] = accountIds(1, 350000000000) as [string];
    stack = await startTestStack([joined], { regions: REGIONS });

    await deliver(
      stack,
      sample("organizations-accept-handshake.cloudtrail-api-call", { "555555555555": joined }),
    );

    expect(statuses(stack, [joined])).toEqual(["Enabled", "Enabled"]);
    expect(await deadLetters(stack)).toEqual([]);
  });

  it("repairs a member someone else deleted, on the tamper signal of that call", async () => {
    // Prepare: a protected member, then deleted in us-east-1 by a person in the administrator account.
    const [victim] = accountIds(1, 360000000000) as [string];
    stack = await startTestStack([victim], { regions: REGIONS });
    await onboardAccounts(stack, [victim]);
    stack.sandbox.registerCredentials(HUMAN_KEY, stack.sandbox.administratorAccountId);
    const human = new GuardDutyClient({
      region: "us-east-1",
      endpoint: stack.sandbox.url,
      credentials: { accessKeyId: HUMAN_KEY, secretAccessKey: "sandbox" },
      maxAttempts: 1,
    });
    const DetectorId = stack.sandbox.detectorId(stack.sandbox.administratorAccountId, "us-east-1");
    await human.send(new DisassociateMembersCommand({ DetectorId, AccountIds: [victim] }));
    await human.send(new DeleteMembersCommand({ DetectorId, AccountIds: [victim] }));
    expect(stack.sandbox.status(victim, "us-east-1")).toBeUndefined();

    // Act: the DeleteMembers call, as CloudTrail reports it.
    const signal = JSON.parse(
      sample("guardduty-delete-members.cloudtrail-api-call", {
        "123456789012": stack.sandbox.administratorAccountId,
      }),
    );
    signal.detail.requestParameters.accountIds = [victim];
    await deliver(stack, JSON.stringify(signal));

    // Assess: a member again, protected, in both regions.
    expect(statuses(stack, [victim])).toEqual(["Enabled", "Enabled"]);
    expect(await deadLetters(stack)).toEqual([]);
  });
});
