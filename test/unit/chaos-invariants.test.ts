import { describe, expect, it } from "vitest";
import { checkInvariants, type RunEnd } from "../../bench/invariants.ts";
import type { DeadLetter } from "../../local/summary.ts";
import { onboardingRequest } from "../support/events.ts";

const REGIONS = ["us-east-1", "eu-west-1"];
const GOOD = "111122223333";
const REFUSED = "444455556666";
const GARBAGE = '{"version":1,"accountId":';

/** A run that ended well: one account invited everywhere, one refused for good, one malformed body. */
function cleanEnd(overrides: Partial<RunEnd> = {}): RunEnd {
  const letter = (region: string): DeadLetter => ({
    reason: "already-member-of-another-administrator",
    accountId: REFUSED,
    region,
    body: {},
  });
  return {
    accounts: [GOOD, REFUSED],
    regions: REGIONS,
    status: (accountId) => (accountId === GOOD ? "Invited" : undefined),
    invitations: (accountId) => (accountId === GOOD ? 1 : 0),
    deadLetters: [
      ...REGIONS.map(letter),
      { reason: "invalid-message", body: { reason: "invalid-message", raw: GARBAGE } },
    ],
    leftInSourceQueues: { OnboardingQueue: 0, RetryQueue: 0 },
    drained: true,
    malformed: [GARBAGE],
    logs: [
      { reason: "invalid-message", function_request_id: "r1" },
      { accountId: GOOD, region: "us-east-1", outcome: "invited", function_request_id: "r1" },
    ],
    ...overrides,
  };
}

describe("chaos invariants", () => {
  it("hold for a run where every pair is invited once or dead-lettered with a reason", () => {
    const result = checkInvariants(cleanEnd());

    expect(Object.values(result.invariants).every(Boolean)).toBe(true);
    expect(result.deadLetteredPairs).toEqual({ "already-member-of-another-administrator": 2 });
  });

  it("with a protection verdict, hold only when every pair not dead-lettered is protected", () => {
    const enabled = {
      status: (accountId: string) => (accountId === GOOD ? "Enabled" : undefined),
      requireEnabled: true,
    };
    const holds = checkInvariants(
      cleanEnd({
        ...enabled,
        protection: (accountId) => (accountId === GOOD ? "protected" : "not-a-member"),
      }),
    );
    expect(holds.invariants.everyPairProtectedOrDeadLettered).toBe(true);

    const drifted = checkInvariants(
      cleanEnd({
        ...enabled,
        protection: (accountId, region) =>
          accountId === GOOD && region === "eu-west-1"
            ? "plans-differ"
            : accountId === GOOD
              ? "protected"
              : "not-a-member",
      }),
    );
    expect(drifted.invariants.everyPairProtectedOrDeadLettered).toBe(false);
    expect(drifted.invariants.everyPairEnabledOrDeadLettered).toBe(true);
    expect(drifted.breaches.everyPairProtectedOrDeadLettered).toEqual([
      `${GOOD} eu-west-1: plans-differ, not in the DLQ`,
    ]);
  });

  it("flag a pair that is neither a member nor in the dead-letter queue", () => {
    const result = checkInvariants(cleanEnd({ deadLetters: cleanEnd().deadLetters.slice(1) }));

    expect(result.invariants.everyPairInvitedOrDeadLettered).toBe(false);
    expect(result.breaches.everyPairInvitedOrDeadLettered).toEqual([
      `${REFUSED} us-east-1: not a member, not in the DLQ`,
    ]);
  });

  it("accept an SQS redrive of the original body as the dead letter of every region of its account", () => {
    const redriven: DeadLetter = {
      reason: "redriven-by-sqs",
      body: onboardingRequest(REFUSED),
    };

    const result = checkInvariants(cleanEnd({ deadLetters: [redriven, ...cleanEnd().deadLetters.slice(2)] }));

    expect(result.invariants.everyPairInvitedOrDeadLettered).toBe(true);
    expect(result.deadLetteredPairs).toEqual({ "redriven-by-sqs": 2 });
  });

  it("flag a second invitation to the same account and region", () => {
    const result = checkInvariants(cleanEnd({ invitations: (accountId) => (accountId === GOOD ? 2 : 0) }));

    expect(result.invariants.noSecondInvitation).toBe(false);
    expect(result.breaches.noSecondInvitation).toHaveLength(2);
  });

  it("flag messages left in a source queue and a run that did not drain", () => {
    const result = checkInvariants(cleanEnd({ leftInSourceQueues: { RetryQueue: 3 }, drained: false }));

    expect(result.invariants.nothingLeftInSourceQueues).toBe(false);
    expect(result.breaches.nothingLeftInSourceQueues).toEqual([
      "RetryQueue: 3 messages",
      "the source queues did not drain before the timeout",
    ]);
  });

  it("flag a malformed body that is missing from the dead-letter queue or not kept verbatim", () => {
    const altered = cleanEnd()
      .deadLetters.slice(0, 2)
      .concat({
        reason: "invalid-message",
        body: { reason: "invalid-message", raw: `${GARBAGE} ` },
      });

    const result = checkInvariants(cleanEnd({ deadLetters: altered }));

    expect(result.invariants.malformedDeadLetteredVerbatim).toBe(false);
  });

  it("flag a sibling of a malformed message that was dead-lettered as invalid or never settled", () => {
    const result = checkInvariants(
      cleanEnd({
        status: () => undefined,
        logs: [
          { reason: "invalid-message", function_request_id: "r1" },
          { accountId: GOOD, region: "us-east-1", outcome: "retry", function_request_id: "r1" },
        ],
      }),
    );

    expect(result.invariants.batchSiblingsUnharmed).toBe(false);
    expect(result.breaches.batchSiblingsUnharmed).toEqual([
      `${GOOD} us-east-1, sibling of a malformed message: not settled`,
    ]);
  });

  it("count pairs that ended onboarded yet were dead-lettered, without calling that a loss", () => {
    const stray: DeadLetter = {
      reason: "rejected-by-guardduty",
      accountId: GOOD,
      region: "eu-west-1",
      body: {},
    };

    const result = checkInvariants(cleanEnd({ deadLetters: [...cleanEnd().deadLetters, stray] }));

    expect(result.invariants.everyPairInvitedOrDeadLettered).toBe(true);
    expect(result.needlesslyDeadLettered).toEqual({ "rejected-by-guardduty": 1 });
  });
});
