import { afterEach, describe, expect, it } from "vitest";
import { accountCreatedEvent, publish } from "../../local/inputs.ts";
import { type LocalStack, type LocalStackOptions, startLocalStack } from "../../local/local-stack.ts";
import { peekDeadLetters } from "../../local/summary.ts";
import { accountIds, onboardingRequest } from "../support/events.ts";

/**
 * The whole pipeline across real wires: the deployable handler bundle in a local Lambda container,
 * fed by Lambda's SQS event-source semantics from a real SQS server, calling the GuardDuty +
 * Organizations sandbox over HTTP with the unmodified AWS SDK.
 */
const REGIONS = ["us-east-1", "eu-west-1"];
let local: LocalStack | undefined;

async function start(options: Partial<LocalStackOptions> & { accounts: string[] }): Promise<LocalStack> {
  local = await startLocalStack({
    regions: REGIONS,
    // A 1 s batching window keeps the tier fast; everything else is serverless.yml's.
    eventSourceSettings: { maximumBatchingWindowSeconds: 1 },
    ...options,
    sandbox: {
      seed: 7,
      accountCount: 5,
      accounts: options.accounts.map((id) => ({ id })),
      ...options.sandbox,
    },
  });
  return local;
}

const everyStatus = (stack: LocalStack, ids: string[]) =>
  ids.flatMap((id) => REGIONS.map((region) => stack.sandbox.status(id, region)));

afterEach(async () => {
  await local?.stop();
  local = undefined;
});

describe("local pipeline", () => {
  it("turns account-created events into enabled members in every region with coalesced calls", async () => {
    const ids = accountIds(60, 300000000000);
    const stack = await start({ accounts: ids });

    await publish(
      stack.sqs.client,
      stack.sqs.urls.OnboardingQueue as string,
      ids.map((id) => accountCreatedEvent(id)),
    );
    await stack.drained(60_000);

    expect(new Set(everyStatus(stack, ids))).toEqual(new Set(["Enabled"]));
    // 60 accounts split over at most a few batches: far fewer calls than accounts.
    for (const region of REGIONS) {
      expect(stack.sandbox.counters.calls("CreateMembers", region)).toBeLessThanOrEqual(4);
      expect(stack.sandbox.counters.calls("InviteMembers", region)).toBeLessThanOrEqual(4);
    }
    expect(stack.sandbox.counters.invitations()).toBe(120);
    expect(await peekDeadLetters(stack.sqs.client, stack.sqs.urls.DeadLetterQueue as string)).toEqual([]);
  });

  it("absorbs throttling and server errors and still invites every account exactly once", async () => {
    const ids = accountIds(30, 310000000000);
    const stack = await start({
      accounts: ids,
      sandbox: {
        faults: {
          guardDutyThrottle: { ratePerSecond: 4, burst: 1 },
          organizationsThrottle: { ratePerSecond: 5, burst: 2 },
          serverErrorRate: 0.1,
          internalErrorRate: 0.1,
        },
      },
    });

    await publish(
      stack.sqs.client,
      stack.sqs.urls.OnboardingQueue as string,
      ids.map((id) => accountCreatedEvent(id)),
    );
    await stack.drained(90_000);

    const counters = stack.sandbox.counters;
    expect(counters.throttled() + counters.serverErrors() + counters.internalErrors()).toBeGreaterThan(0);
    expect(new Set(everyStatus(stack, ids))).toEqual(new Set(["Enabled"]));
    for (const id of ids) for (const region of REGIONS) expect(counters.invitations(id, region)).toBe(1);
    expect(await peekDeadLetters(stack.sqs.client, stack.sqs.urls.DeadLetterQueue as string)).toEqual([]);
  }, 120_000);

  it("dead-letters a permanent rejection with its reason and a malformed body verbatim, without harming siblings", async () => {
    const [managedElsewhere, fine] = accountIds(2, 320000000000) as [string, string];
    const stack = await start({
      accounts: [managedElsewhere, fine],
      sandbox: { membersOfOtherAdministrator: [{ accountId: managedElsewhere, regions: ["eu-west-1"] }] },
    });
    const garbage = '{"version":1,"accountId":';

    await publish(stack.sqs.client, stack.sqs.urls.OnboardingQueue as string, [
      accountCreatedEvent(managedElsewhere),
      garbage,
      JSON.stringify(onboardingRequest(fine)),
    ]);
    await stack.drained(60_000);

    const letters = await peekDeadLetters(stack.sqs.client, stack.sqs.urls.DeadLetterQueue as string);
    expect(
      letters
        .map(({ reason, accountId, region }) => ({ reason, accountId, region }))
        .sort((a, b) => a.reason.localeCompare(b.reason)),
    ).toEqual([
      { reason: "already-member-of-another-administrator", accountId: managedElsewhere, region: "eu-west-1" },
      { reason: "invalid-message", accountId: undefined, region: undefined },
    ]);
    expect(letters.find((letter) => letter.reason === "invalid-message")?.body).toMatchObject({
      raw: garbage,
    });
    expect(stack.sandbox.status(managedElsewhere, "us-east-1")).toBe("Enabled");
    expect(everyStatus(stack, [fine])).toEqual(["Enabled", "Enabled"]);
  });

  it("redelivers a batch whose container crashed mid-batch and never sends a second invitation", async () => {
    const ids = accountIds(20, 330000000000);
    let sandboxRef: LocalStack["sandbox"] | undefined;
    const stack = await start({
      accounts: ids,
      // Visibility 2 s instead of 360 s, so the crashed batch reappears within the test.
      queueAttributes: { VisibilityTimeout: "2" },
      eventSourceFaults: {
        // The first invocation's container dies right after its first invitations went out.
        crashSignal: (invocation) => (invocation === 0 ? afterInvitations(() => sandboxRef) : undefined),
      },
    });
    sandboxRef = stack.sandbox;

    await publish(
      stack.sqs.client,
      stack.sqs.urls.OnboardingQueue as string,
      ids.map((id) => accountCreatedEvent(id)),
    );
    await stack.drained(60_000);

    const source = stack.eventSources[0];
    expect(source?.stats.crashes).toBe(1);
    expect(new Set(everyStatus(stack, ids))).toEqual(new Set(["Enabled"]));
    for (const id of ids)
      for (const region of REGIONS) expect(stack.sandbox.counters.invitations(id, region)).toBe(1);
    expect(await peekDeadLetters(stack.sqs.client, stack.sqs.urls.DeadLetterQueue as string)).toEqual([]);
  });
});

/** A signal that fires once the sandbox has sent its first invitation. */
function afterInvitations(sandbox: () => LocalStack["sandbox"] | undefined): AbortSignal {
  const controller = new AbortController();
  const timer = setInterval(() => {
    if ((sandbox()?.counters.invitations() ?? 0) > 0) {
      clearInterval(timer);
      controller.abort();
    }
  }, 2);
  return controller.signal;
}
