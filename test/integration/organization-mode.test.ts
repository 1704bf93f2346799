/**
 * Organization mode across real wires (`membershipMode=organization`): the stack's account is the
 * organization's GuardDuty delegated administrator, so the onboard function's CreateMembers alone enables
 * each account — no invitation, no member side. Where the account is not the delegated administrator,
 * the region is dead-lettered `not-delegated-administrator`; once the management account designates it
 * (EnableOrganizationAdminAccount), `gd-onboard dlq replay` finishes the job.
 */
import {
  CreateDetectorCommand,
  EnableOrganizationAdminAccountCommand,
  GuardDutyClient,
} from "@aws-sdk/client-guardduty";
import { afterEach, describe, expect, it } from "vitest";
import type { DeadLetterBody } from "#shared/dead-letter";
import { run } from "../../cli/main.ts";
import type { LocalStack } from "../../local/local-stack.ts";
import { peekDeadLetters } from "../../local/summary.ts";
import { accountIds } from "../support/events.ts";
import { onboardAccounts, startTestStack } from "../support/local.ts";

const REGIONS = ["us-east-1", "eu-west-1"];
const MANAGEMENT_KEY = "AKIDORGMODEMANAGEMENT";
const ORGANIZATION_MODE = { membershipMode: "organization" };
let stack: LocalStack | undefined;

afterEach(async () => {
  await stack?.stop();
  stack = undefined;
});

const statuses = (local: LocalStack, ids: readonly string[], region: string) =>
  ids.map((id) => local.sandbox.status(id, region));

async function deadLetters(local: LocalStack): Promise<DeadLetterBody[]> {
  const letters = await peekDeadLetters(local.sqs.client, local.sqs.urls.DeadLetterQueue as string);
  return letters.map((letter) => letter.body as DeadLetterBody);
}

/** `gd-onboard …` in-process, with the operator's environment of the stack. */
async function cli(local: LocalStack, ...argv: string[]) {
  let stdout = "";
  let stderr = "";
  const code = await run(argv, {
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text) },
    env: local.env,
  });
  return { code, stdout, stderr };
}

/** A GuardDuty client of the management account (AdministratorAccess there) in one region. */
function management(local: LocalStack, region: string): GuardDutyClient {
  local.sandbox.registerCredentials(MANAGEMENT_KEY, local.sandbox.managementAccountId);
  return new GuardDutyClient({
    region,
    endpoint: local.sandbox.url,
    credentials: { accessKeyId: MANAGEMENT_KEY, secretAccessKey: "sandbox" },
    maxAttempts: 1,
  });
}

describe("organization mode, end to end", () => {
  it("enables every account with CreateMembers alone: one call per 50 accounts and region, no invitation, no AssumeRole", async () => {
    // Prepare
    const ids = accountIds(60, 310000000000);
    stack = await startTestStack(ids, { regions: REGIONS, params: ORGANIZATION_MODE });

    // Act
    await onboardAccounts(stack, ids);

    // Assess
    for (const region of REGIONS) {
      expect(new Set(statuses(stack, ids, region))).toEqual(new Set(["Enabled"]));
      // Batches of ≤ 100 records, ≤ 50 accounts a call: at most ⌈60/50⌉ + one call per extra batch.
      expect(stack.sandbox.counters.calls("CreateMembers", region)).toBeLessThanOrEqual(4);
      expect(stack.sandbox.counters.calls("InviteMembers", region)).toBe(0);
    }
    expect(stack.sandbox.counters.calls("AssumeRole")).toBe(0);
    expect(stack.sandbox.counters.invitations()).toBe(0);
    expect(await deadLetters(stack)).toEqual([]);
    const accept = await stack.depths();
    expect(accept.AcceptQueue).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
  });

  it("dead-letters a region where the stack's account is not the delegated administrator, and a replay after the designation enables it", async () => {
    // Prepare: delegated administrator in us-east-1 only.
    const ids = accountIds(3, 320000000000);
    stack = await startTestStack(ids, {
      regions: REGIONS,
      params: ORGANIZATION_MODE,
      sandbox: { delegatedAdministratorRegions: ["us-east-1"] },
    });

    // Act
    await onboardAccounts(stack, ids);
    const before = await deadLetters(stack);
    const euWest = management(stack, "eu-west-1");
    await euWest.send(new CreateDetectorCommand({ Enable: true }));
    await euWest.send(
      new EnableOrganizationAdminAccountCommand({ AdminAccountId: stack.sandbox.administratorAccountId }),
    );
    euWest.destroy();
    const replay = await cli(stack, "dlq", "replay", "--reason", "not-delegated-administrator");
    await stack.drained(60_000);

    // Assess
    expect(statuses(stack, ids, "us-east-1")).toEqual(["Enabled", "Enabled", "Enabled"]);
    expect(
      before
        .map(({ reason, accountId, region }) => ({ reason, accountId, region }))
        .sort((a, b) => String(a.accountId).localeCompare(String(b.accountId))),
    ).toEqual(
      ids.map((accountId) => ({ reason: "not-delegated-administrator", accountId, region: "eu-west-1" })),
    );
    // Dead-lettered before any CreateMembers there: no invitation-mode member was left behind.
    expect(before.every((letter) => /master permission|delegated administrator/i.test(letter.detail))).toBe(
      true,
    );
    expect(replay).toMatchObject({ code: 0, stderr: "" });
    expect(replay.stdout).toContain("Replayed 3 message(s)");
    expect(statuses(stack, ids, "eu-west-1")).toEqual(["Enabled", "Enabled", "Enabled"]);
    expect(await deadLetters(stack)).toEqual([]);
    expect(stack.sandbox.counters.invitations()).toBe(0);
  });
});
