import { CreateDetectorCommand, GuardDutyClient } from "@aws-sdk/client-guardduty";
import { afterEach, describe, expect, it } from "vitest";
import { publish } from "../../local/inputs.ts";
import type { LocalStack, LocalStackOptions } from "../../local/local-stack.ts";
import { peekDeadLetters } from "../../local/summary.ts";
import { accountIds } from "../support/events.ts";
import { onboardAccounts, startTestStack } from "../support/local.ts";

/**
 * The member side across real wires: the function assumes the member role through the sandbox's STS,
 * creates the member's detector and accepts the administrator's invitation with the member's credentials.
 */
const REGIONS = ["us-east-1", "eu-west-1"];
let local: LocalStack | undefined;

async function start(accounts: string[], options: Partial<LocalStackOptions> = {}): Promise<LocalStack> {
  local = await startTestStack(accounts, { seed: 11, regions: REGIONS, ...options });
  return local;
}

const onboard = onboardAccounts;

afterEach(async () => {
  await local?.stop();
  local = undefined;
});

describe("member-side acceptance", () => {
  it("ends invited accounts Enabled, each with a detector of its own, after one invitation", async () => {
    const ids = accountIds(4, 500000000000);
    const stack = await start(ids);

    await onboard(stack, ids);

    for (const id of ids) {
      for (const region of REGIONS) {
        expect(stack.sandbox.status(id, region)).toBe("Enabled");
        expect(stack.sandbox.detectorId(id, region)).toEqual(expect.any(String));
        expect(stack.sandbox.counters.invitations(id, region)).toBe(1);
      }
    }
    expect(stack.sandbox.counters.calls("AssumeRole")).toBe(ids.length);
  });

  it("keeps the detector a member already has", async () => {
    const [member] = accountIds(1, 510000000000) as [string];
    const stack = await start([member]);
    stack.sandbox.registerCredentials("member-key", member);
    const memberClient = new GuardDutyClient({
      endpoint: stack.sandbox.url,
      region: "eu-west-1",
      credentials: { accessKeyId: "member-key", secretAccessKey: "x" },
    });
    stack.sandbox.registerCredentials("member-key", member);
    const { DetectorId } = await memberClient.send(new CreateDetectorCommand({ Enable: true }));

    await onboard(stack, [member]);

    expect(stack.sandbox.detectorId(member, "eu-west-1")).toBe(DetectorId);
    expect(stack.sandbox.status(member, "eu-west-1")).toBe("Enabled");
    expect(stack.sandbox.counters.calls("CreateDetector", "eu-west-1")).toBe(1); // the test's own
  });

  it("dead-letters a member whose role cannot be assumed, and a replay after the fix resumes at acceptance", async () => {
    const [locked, open] = accountIds(2, 520000000000) as [string, string];
    const stack = await start([locked, open], { sandbox: { unassumableAccounts: [locked] } });

    await onboard(stack, [locked, open]);

    const letters = await peekDeadLetters(stack.sqs.client, stack.sqs.urls.DeadLetterQueue as string);
    expect(letters.map((letter) => [letter.reason, letter.accountId, letter.region]).sort()).toEqual([
      ["member-role-not-assumable", locked, "eu-west-1"],
      ["member-role-not-assumable", locked, "us-east-1"],
    ]);
    expect(REGIONS.map((region) => stack.sandbox.status(locked, region))).toEqual(["Invited", "Invited"]);
    expect(REGIONS.map((region) => stack.sandbox.status(open, region))).toEqual(["Enabled", "Enabled"]);

    // The operator deploys the member role there (its StackSet instance) and replays the dead letters' requests.
    stack.sandbox.provisionRoles(locked);
    const requests = letters.map((letter) => ({
      ...(letter.body as { request: object }).request,
      attempt: 0,
      origin: "replay",
    }));
    const createsBefore = stack.sandbox.counters.calls("CreateMembers");
    await publish(
      stack.sqs.client,
      stack.sqs.urls.OnboardingQueue as string,
      requests.map((request) => JSON.stringify(request)),
    );
    await stack.drained(60_000);

    expect(requests.every((request) => (request as { step?: string }).step === "accept")).toBe(true);
    expect(REGIONS.map((region) => stack.sandbox.status(locked, region))).toEqual(["Enabled", "Enabled"]);
    expect(stack.sandbox.counters.calls("CreateMembers")).toBe(createsBefore);
    for (const region of REGIONS) expect(stack.sandbox.counters.invitations(locked, region)).toBe(1);
  });

  it("retries while the invitation has not reached the member and accepts it once it appears", async () => {
    const [member] = accountIds(1, 530000000000) as [string];
    const lines: string[] = [];
    const stack = await start([member], {
      sandbox: { invitationDelayMs: 4_000 },
      onLog: (line) => lines.push(line),
    });

    await onboard(stack, [member]);

    const outcomes = lines
      .map((line) => JSON.parse(line))
      .filter((line) => line.message === "account outcome");
    expect(outcomes.some((line) => line.reason === "invitation-not-found" && line.outcome === "retry")).toBe(
      true,
    );
    expect(
      outcomes
        .filter((line) => line.outcome === "enabled")
        .map((line) => line.region)
        .sort(),
    ).toEqual([...REGIONS].sort());
    expect(REGIONS.map((region) => stack.sandbox.status(member, region))).toEqual(["Enabled", "Enabled"]);
    expect(stack.sandbox.counters.invitations()).toBe(2);
  });
});
