import {
  CreateMembersCommand,
  DeleteMembersCommand,
  DisassociateFromAdministratorAccountCommand,
  DisassociateMembersCommand,
  GetMembersCommand,
  GuardDutyClient,
  InviteMembersCommand,
  ListDetectorsCommand,
  StopMonitoringMembersCommand,
  UpdateDetectorCommand,
} from "@aws-sdk/client-guardduty";
import { afterEach, describe, expect, it } from "vitest";
import type { LocalStack } from "../../local/local-stack.ts";
import { runReconcile } from "../../local/reconcile.ts";
import { peekDeadLetters } from "../../local/summary.ts";
import { ADMINISTRATOR_ACCESS_KEY_ID } from "../../sandbox/identity.ts";
import { accountIds } from "../support/events.ts";
import { onboardAccounts, operatorCoverage, startTestStack } from "../support/local.ts";

/**
 * Coverage across the wire: members protected by the pipeline are put out of place with the calls
 * people and member accounts make (a member resigns, the administrator stops monitoring one, removes
 * one, deletes one, invites one again by hand, a member turns a plan off), `gd-onboard coverage --local --json` gives each pair its
 * verdict, the reconcile function enqueues the repairs, and once the queues drain every pair is
 * protected again. A member whose invitation e-mail failed verification is deleted and created again
 * with the account's e-mail.
 */
const REGIONS = ["us-east-1", "eu-west-1"];
let local: LocalStack | undefined;

afterEach(async () => {
  await local?.stop();
  local = undefined;
});

/** A GuardDuty client of `accountId` itself (the member's own credentials) or of the administrator. */
function client(stack: LocalStack, region: string, accountId?: string): GuardDutyClient {
  const accessKeyId = accountId ? `member-${accountId}` : ADMINISTRATOR_ACCESS_KEY_ID;
  if (accountId) stack.sandbox.registerCredentials(accessKeyId, accountId);
  return new GuardDutyClient({
    endpoint: stack.sandbox.url,
    region,
    credentials: { accessKeyId, secretAccessKey: "local" },
  });
}

async function detectorOf(guardduty: GuardDutyClient): Promise<string> {
  const { DetectorIds = [] } = await guardduty.send(new ListDetectorsCommand({}));
  return DetectorIds[0] as string;
}

describe("coverage", () => {
  it("gives every pair put out of place its verdict, and the reconcile's repairs bring coverage back to 1", async () => {
    // Prepare: seven accounts onboarded and protected in both regions.
    const ids = accountIds(7, 640000000000);
    const [resigned, stopped, removed, deleted, drifted, invited] = ids as [
      string,
      string,
      string,
      string,
      string,
      string,
    ];
    local = await startTestStack(ids, { regions: REGIONS, sandbox: { accountCount: 0 } });
    const stack = local;
    await onboardAccounts(stack, [...ids, stack.sandbox.managementAccountId]);
    expect((await operatorCoverage(stack)).coverage).toBe(1);

    // … then put out of place, in us-east-1, by the calls AWS offers each party.
    const region = "us-east-1";
    const admin = client(stack, region);
    const DetectorId = await detectorOf(admin);
    const own = client(stack, region, resigned);
    await own.send(new DisassociateFromAdministratorAccountCommand({ DetectorId: await detectorOf(own) }));
    await admin.send(new StopMonitoringMembersCommand({ DetectorId, AccountIds: [stopped] }));
    await admin.send(new DisassociateMembersCommand({ DetectorId, AccountIds: [removed, deleted, invited] }));
    await admin.send(new DeleteMembersCommand({ DetectorId, AccountIds: [deleted] }));
    // Invited again by hand, and not accepted.
    await admin.send(
      new InviteMembersCommand({ DetectorId, AccountIds: [invited], DisableEmailNotification: true }),
    );
    const member = client(stack, region, drifted);
    await member.send(
      new UpdateDetectorCommand({
        DetectorId: await detectorOf(member),
        Features: [{ Name: "S3_DATA_EVENTS", Status: "DISABLED" }],
      }),
    );

    // Act 1: the operator's view.
    const before = await operatorCoverage(stack);

    // Assess 1: one verdict per pair put out of place; the rest protected.
    const desired = (ids.length + 1) * REGIONS.length;
    expect(before).toMatchObject({ desired, coverage: (desired - 6) / desired });
    const outOfPlace = before.pairs.filter((pair) => pair.verdict !== "protected");
    expect(outOfPlace.map(({ accountId, region, verdict }) => ({ accountId, region, verdict }))).toEqual([
      { accountId: resigned, region, verdict: "resigned" },
      { accountId: stopped, region, verdict: "monitoring-stopped" },
      { accountId: removed, region, verdict: "removed" },
      { accountId: deleted, region, verdict: "not-a-member" },
      { accountId: drifted, region, verdict: "plans-differ" },
      { accountId: invited, region, verdict: "invited-not-accepted" },
    ]);
    expect(outOfPlace[4]?.detail).toBe("S3_DATA_EVENTS is DISABLED, wanted ENABLED");

    // Act 2: the scheduled reconciliation, then the pipeline works through its repairs.
    const report = await runReconcile(stack, { runId: "schedule-coverage" });
    await stack.drained(60_000);

    // Assess 2: the run measured what the operator saw and enqueued one repair per pair out of place;
    // once the pipeline has worked through them, coverage is back to 1.
    expect(report.summary).toMatchObject({ desired, protected: desired - 6 });
    expect(report.repairs).toEqual({
      resigned: 1,
      "monitoring-stopped": 1,
      removed: 1,
      "not-a-member": 1,
      "plans-differ": 1,
      "invited-not-accepted": 1,
    });
    const after = await operatorCoverage(stack);
    expect(after).toMatchObject({ coverage: 1, desired, byVerdict: { protected: desired } });
    expect(stack.sandbox.counters.calls("StartMonitoringMembers", region)).toBe(1);
    expect(await peekDeadLetters(stack.sqs.client, stack.sqs.urls.DeadLetterQueue as string)).toEqual([]);
  });

  it("repairs a member whose invitation e-mail failed verification: deleted, created with the account's e-mail, invited once, protected", async () => {
    // Prepare: two accounts protected; one re-created by hand with an address no mail reaches, and invited.
    const region = "us-east-1";
    const [failing, bystander] = accountIds(2, 650000000000) as [string, string];
    local = await startTestStack([failing, bystander], { regions: [region], sandbox: { accountCount: 0 } });
    const stack = local;
    await onboardAccounts(stack, [failing, bystander, stack.sandbox.managementAccountId]);
    const admin = client(stack, region);
    const DetectorId = await detectorOf(admin);
    await admin.send(new DisassociateMembersCommand({ DetectorId, AccountIds: [failing] }));
    await admin.send(new DeleteMembersCommand({ DetectorId, AccountIds: [failing] }));
    await admin.send(
      new CreateMembersCommand({
        DetectorId,
        AccountDetails: [{ AccountId: failing, Email: `acct-${failing}@example.invalid` }],
      }),
    );
    await admin.send(new InviteMembersCommand({ DetectorId, AccountIds: [failing] }));
    const before = await operatorCoverage(stack);
    const invitationsBefore = stack.sandbox.counters.invitations(failing, region);

    // Act: the scheduled reconciliation, then the pipeline works through its repair.
    const report = await runReconcile(stack, { runId: "schedule-email-verification" });
    await stack.drained(60_000);

    // Assess
    expect(
      before.pairs
        .filter((pair) => pair.verdict !== "protected")
        .map(({ accountId, region, verdict }) => ({ accountId, region, verdict })),
    ).toEqual([{ accountId: failing, region, verdict: "email-verification-failed" }]);
    expect(report.repairs).toEqual({ "email-verification-failed": 1 });
    expect(await operatorCoverage(stack)).toMatchObject({ coverage: 1, byVerdict: { protected: 3 } });
    expect(stack.sandbox.status(failing, region)).toBe("Enabled");
    expect(stack.sandbox.counters.invitations(failing, region) - invitationsBefore).toBe(1);
    const { Members = [] } = await admin.send(new GetMembersCommand({ DetectorId, AccountIds: [failing] }));
    const account = stack.sandbox.accounts().find(({ id }) => id === failing);
    expect(Members[0]?.Email).toBe(account?.email);
    expect(await peekDeadLetters(stack.sqs.client, stack.sqs.urls.DeadLetterQueue as string)).toEqual([]);
  });
});
