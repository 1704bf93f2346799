import { describe, expect, it } from "vitest";
import { burstLowerBound, trickleLowerBound } from "../../bench/lower-bound.ts";
import { DEFAULT_PROFILE } from "../../bench/profile.ts";

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
