import { describe, expect, it } from "vitest";
import { burstLowerBound, trickleLowerBound } from "../../bench/lower-bound.ts";
import { DEFAULT_PROFILE } from "../../bench/profile.ts";
import { reconcileLowerBound } from "../../bench/reconcile-scale.ts";

const member = { concurrency: 50 };

describe("the bench's lower bound, per membership mode", () => {
  it("costs ⌈N/50⌉ CreateMembers a region and nothing else in organization mode, Enabled when they answer", () => {
    // Act
    const organization = burstLowerBound(1000, 3, DEFAULT_PROFILE, { ...member, mode: "organization" });
    const invitation = burstLowerBound(1000, 3, DEFAULT_PROFILE, member);

    // Assess
    // CreateMembers, then verification (GetMembers + GetMemberDetectors), each ⌈1000/50⌉ a region.
    expect(organization.guarddutyCalls).toBe((1 + 2) * 20 * 3);
    expect(invitation.guarddutyCalls).toBe((2 + 2) * 20 * 3);
    expect(organization.memberSideCallsPerAccountRegion).toBe(0);
    expect(organization.enabledMakespanMs).toBe(organization.makespanMs);
    expect(organization.enabledMakespanMs).toBeLessThan(invitation.enabledMakespanMs);
    expect(organization.makespanMs).toBeLessThanOrEqual(invitation.makespanMs);
  });

  it("enables a trickle's account one GuardDuty latency after its e-mail is known in organization mode", () => {
    // Act
    const bound = trickleLowerBound(5, 2, 10_000, DEFAULT_PROFILE, { ...member, mode: "organization" });

    // Assess
    const { organizations, guardduty } = DEFAULT_PROFILE;
    expect(bound.guarddutyCalls).toBe(5 * 2 * 3);
    expect(bound.enabledP50Ms).toBe(organizations.latencyMs + guardduty.latencyMs);
    expect(bound.p50Ms).toBe(bound.enabledP50Ms);
  });
});

describe("the reconcile-scale lower bound", () => {
  it("is the sequential listing at the Organizations bucket's pace, then the last chunk's two GuardDuty latencies", () => {
    // 50,000 accounts: 2,500 pages, 10 at once then 5 a second (+ one 80 ms latency); each region's
    // 1,000 GetMembers at 10 a second in parallel with it (98 s), so the listing bounds the run.
    const bound = reconcileLowerBound(50_000, 49_999, 17, DEFAULT_PROFILE);

    expect(bound.wallTimeMs).toBe(((2_500 - 10) / 5) * 1000 + 80 + 2 * 50);
    // Pages, and per region ⌈49,999/50⌉ GetMembers, as many GetMemberDetectors and ListMembers pages, and
    // one ListDetectors.
    expect(bound.callsPerAccount).toBeCloseTo((2_500 + 17 * (3 * 1_000 + 1)) / 50_000, 10);
  });

  it("is bounded by a region's GetMembers when GuardDuty's bucket is the slower one", () => {
    const slowGuardDuty = { ...DEFAULT_PROFILE, guardduty: { latencyMs: 50, ratePerSecond: 1, burst: 20 } };

    expect(reconcileLowerBound(50_000, 49_999, 17, slowGuardDuty).wallTimeMs).toBe(
      ((1_000 - 20) / 1) * 1000 + 50 + 2 * 50,
    );
  });
});
