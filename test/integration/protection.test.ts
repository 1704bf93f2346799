import {
  AcceptAdministratorInvitationCommand,
  CreateDetectorCommand,
  GuardDutyClient,
  ListDetectorsCommand,
  ListInvitationsCommand,
  UpdateDetectorCommand,
} from "@aws-sdk/client-guardduty";
import { afterEach, describe, expect, it } from "vitest";
import { pairVerdict } from "#shared/coverage";
import { DEFAULT_PROFILE, differences, parseProfile, plansFor } from "#shared/protection";
import { run } from "../../cli/main.ts";
import { publish } from "../../local/inputs.ts";
import type { LocalStack } from "../../local/local-stack.ts";
import { peekDeadLetters } from "../../local/summary.ts";
import { accountIds, onboardingRequest } from "../support/events.ts";
import { onboardAccounts, startTestStack } from "../support/local.ts";

/**
 * Protection across the wire: the member side names every plan, the administrator side reads them back
 * (GetMemberDetectors) and brings drift back (UpdateMemberDetectors), the sandbox holding each
 * detector's features as GuardDuty's model describes them.
 */
const REGIONS = ["us-east-1", "eu-west-1"];
let local: LocalStack | undefined;

afterEach(async () => {
  await local?.stop();
  local = undefined;
});

const verdicts = (stack: LocalStack, ids: readonly string[], profile = DEFAULT_PROFILE) =>
  ids.flatMap((id) =>
    REGIONS.map((region) =>
      pairVerdict(stack.sandbox.status(id, region), stack.sandbox.features(id, region), profile, region),
    ),
  );

const memberClient = (stack: LocalStack, accountId: string, region: string) => {
  stack.sandbox.registerCredentials(`member-${accountId}`, accountId);
  return new GuardDutyClient({
    endpoint: stack.sandbox.url,
    region,
    credentials: { accessKeyId: `member-${accountId}`, secretAccessKey: "x" },
  });
};

/** `gd-onboard status … --local --json` as an operator runs it, with the stack's operator credentials. */
async function status(stack: LocalStack, accountId: string) {
  let stdout = "";
  const code = await run(["status", accountId, "--local", "--json"], {
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: () => {} },
    env: stack.env,
  });
  expect(code).toBe(0);
  return (
    JSON.parse(stdout) as { protection: Record<string, { verdict: string; differences: string[] }> }[]
  )[0];
}

describe("protection", () => {
  it("ends every member protected with the default profile: Runtime Monitoring off, not on by CreateDetector's default", async () => {
    const ids = accountIds(4, 610000000000);
    local = await startTestStack(ids, { regions: REGIONS });

    await onboardAccounts(local, ids);

    expect(new Set(verdicts(local, ids))).toEqual(new Set(["protected"]));
    for (const id of ids)
      expect(local.sandbox.features(id, "us-east-1")?.RUNTIME_MONITORING.status).toBe("DISABLED");
    // Each batch's members are read back together, ≤ 50 a call.
    for (const region of REGIONS)
      expect(local.sandbox.counters.calls("GetMemberDetectors", region)).toBeLessThanOrEqual(ids.length);
    expect(await peekDeadLetters(local.sqs.client, local.sqs.urls.DeadLetterQueue as string)).toEqual([]);
  });

  it("applies a profile given as the stage parameter, with its region override", async () => {
    const ids = accountIds(2, 620000000000);
    const plans = {
      default: {
        S3_DATA_EVENTS: "DISABLED",
        RUNTIME_MONITORING: { status: "ENABLED", EC2_AGENT_MANAGEMENT: "ENABLED" },
      },
      regions: { "eu-west-1": { S3_DATA_EVENTS: "ENABLED" } },
    };
    local = await startTestStack(ids, {
      regions: REGIONS,
      params: { protectionPlans: JSON.stringify(plans) },
    });

    await onboardAccounts(local, ids);

    const profile = parseProfile(JSON.stringify(plans));
    expect(new Set(verdicts(local, ids, profile))).toEqual(new Set(["protected"]));
    const [first] = ids as [string];
    expect(local.sandbox.features(first, "us-east-1")?.RUNTIME_MONITORING).toMatchObject({
      status: "ENABLED",
      additional: { EC2_AGENT_MANAGEMENT: "ENABLED" },
    });
    expect(local.sandbox.features(first, "us-east-1")?.S3_DATA_EVENTS.status).toBe("DISABLED");
    expect(local.sandbox.features(first, "eu-west-1")?.S3_DATA_EVENTS.status).toBe("ENABLED");
  });

  it("brings a member whose plans drifted back to the profile", async () => {
    const [member] = accountIds(1, 630000000000) as [string];
    local = await startTestStack([member], { regions: REGIONS });
    await onboardAccounts(local, [member]);

    // The member turns S3 data events off in its own account.
    const client = memberClient(local, member, "us-east-1");
    const { DetectorIds = [] } = await client.send(new ListDetectorsCommand({}));
    await client.send(
      new UpdateDetectorCommand({
        DetectorId: DetectorIds[0],
        Features: [{ Name: "S3_DATA_EVENTS", Status: "DISABLED" }],
      }),
    );
    const wanted = plansFor(DEFAULT_PROFILE, "us-east-1");
    expect(differences(wanted, local.sandbox.features(member, "us-east-1") ?? {})).toEqual([
      "S3_DATA_EVENTS is DISABLED, wanted ENABLED",
    ]);
    // The operator sees it: the plans against the profile, per region.
    expect((await status(local, member))?.protection).toMatchObject({
      "us-east-1": { verdict: "plans-differ", differences: ["S3_DATA_EVENTS is DISABLED, wanted ENABLED"] },
      "eu-west-1": { verdict: "protected", differences: [] },
    });

    // A reconcile or an operator asks again: the member is already Enabled, its plans are brought back.
    await publish(local.sqs.client, local.sqs.urls.OnboardingQueue as string, [
      JSON.stringify(onboardingRequest(member, { regions: ["us-east-1"] })),
    ]);
    await local.drained(60_000);

    expect(verdicts(local, [member])).toEqual(["protected", "protected"]);
    expect(local.sandbox.counters.calls("UpdateMemberDetectors", "us-east-1")).toBe(1);
    expect((await status(local, member))?.protection["us-east-1"]?.verdict).toBe("protected");
  });

  it("retries a member GuardDuty does not call associated yet until it is, then verifies it", async () => {
    const [member] = accountIds(1, 640000000000) as [string];
    // The member side is off: the invitation stays pending until the member accepts by hand.
    local = await startTestStack([member], {
      regions: ["us-east-1"],
      params: { acceptInvitations: "false" },
    });
    await onboardAccounts(local, [member]);
    expect(local.sandbox.status(member, "us-east-1")).toBe("Invited");

    // Verification asked while the member has not accepted: "not associated", retried with backoff.
    await publish(local.sqs.client, local.sqs.urls.OnboardingQueue as string, [
      JSON.stringify(onboardingRequest(member, { regions: ["us-east-1"], step: "verify" })),
    ]);
    const client = memberClient(local, member, "us-east-1");
    const deadline = Date.now() + 30_000;
    while (local.sandbox.counters.calls("GetMembers", "us-east-1") < 1 && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 50));
    // Then the member accepts by hand, its detector made with S3 data events off.
    const { DetectorId } = await client.send(
      new CreateDetectorCommand({ Enable: true, Features: [{ Name: "S3_DATA_EVENTS", Status: "DISABLED" }] }),
    );
    const { Invitations = [] } = await client.send(new ListInvitationsCommand({}));
    await client.send(
      new AcceptAdministratorInvitationCommand({
        DetectorId,
        AdministratorId: local.sandbox.administratorAccountId,
        InvitationId: Invitations[0]?.InvitationId,
      }),
    );
    await local.drained(60_000);

    // The retry found it associated, brought S3 data events back on and read the plans back.
    expect(local.sandbox.counters.calls("GetMembers", "us-east-1")).toBeGreaterThanOrEqual(2);
    expect(local.sandbox.counters.calls("UpdateMemberDetectors", "us-east-1")).toBe(1);
    expect(verdicts(local, [member]).slice(0, 1)).toEqual(["protected"]);
    expect(local.sandbox.status(member, "us-east-1")).toBe("Enabled");
    expect(await peekDeadLetters(local.sqs.client, local.sqs.urls.DeadLetterQueue as string)).toEqual([]);
  });
});
