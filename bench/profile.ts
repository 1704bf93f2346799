/**
 * The service profile a benchmark runs under: per-call latency and token-bucket throttles. AWS
 * publishes no numbers for GuardDuty's, Organizations' or STS's throttles, so these are assumptions,
 * stated and printed with every result; a figure means nothing without the profile it was measured under.
 *
 * The sandbox enacts the GuardDuty and Organizations parts (latency and buckets). It enacts nothing of
 * the STS part: it answers AssumeRole without injected latency or throttle (sandbox/server.ts, "STS is a
 * means to reach member accounts, not a service under test"), so the STS figures are assumptions of the
 * lower bound alone, and the measured run pays less for STS than the bound assumes.
 */
import type { FaultOptions } from "../sandbox/faults.ts";

export interface ServiceProfile {
  /** Latency of every call, in ms. */
  readonly latencyMs: number;
  /** Sustained calls per second of the token bucket. */
  readonly ratePerSecond: number;
  /** Calls a full bucket admits at once. */
  readonly burst: number;
}

export interface Profile {
  /** One bucket per API per region (GuardDuty's quotas are per API and region). */
  readonly guardduty: ServiceProfile;
  /** One global bucket across all Organizations APIs. */
  readonly organizations: ServiceProfile;
  /**
   * The administrator's STS AssumeRole into member accounts: one bucket for the calling account. In the
   * lower bound only: the sandbox does not enact it (see above).
   */
  readonly sts: ServiceProfile;
  /** Accounts already in the organization (management and administrator included) besides the new ones. */
  readonly existingAccounts: number;
}

export const DEFAULT_PROFILE: Profile = {
  guardduty: { latencyMs: 50, ratePerSecond: 10, burst: 20 },
  organizations: { latencyMs: 80, ratePerSecond: 5, burst: 10 },
  sts: { latencyMs: 30, ratePerSecond: 100, burst: 100 },
  existingAccounts: 500,
};

/**
 * The administrator's member-management APIs, which the GuardDuty buckets throttle. Calls made inside
 * member accounts (the accept function's ListDetectors, CreateDetector, ListInvitations,
 * AcceptAdministratorInvitation) are not throttled: in AWS each account has its own quotas, and a member
 * makes a handful of calls. The administrator's `ListDetectors` is made once per container and region.
 */
export const THROTTLED_GUARDDUTY_OPERATIONS = ["CreateMembers", "InviteMembers", "GetMembers", "ListMembers"];

/** The sandbox faults that enact a profile (nothing else: no errors, no spikes). */
export function profileFaults(profile: Profile): FaultOptions {
  const { guardduty, organizations } = profile;
  return {
    serviceLatencyMs: { guardduty: guardduty.latencyMs, organizations: organizations.latencyMs },
    guardDutyThrottle: {
      ratePerSecond: guardduty.ratePerSecond,
      burst: guardduty.burst,
      operations: THROTTLED_GUARDDUTY_OPERATIONS,
    },
    organizationsThrottle: { ratePerSecond: organizations.ratePerSecond, burst: organizations.burst },
  };
}

/** A profile with a partial override, e.g. from `--profile '{"guardduty":{"ratePerSecond":5}}'`. */
export function mergeProfile(base: Profile, override: unknown): Profile {
  const patch = (override ?? {}) as Partial<Record<keyof Profile, unknown>>;
  const service = (name: "guardduty" | "organizations" | "sts"): ServiceProfile => ({
    ...base[name],
    ...(patch[name] as Partial<ServiceProfile> | undefined),
  });
  const profile: Profile = {
    guardduty: service("guardduty"),
    organizations: service("organizations"),
    sts: service("sts"),
    existingAccounts: Number(patch.existingAccounts ?? base.existingAccounts),
  };
  for (const [service, figures] of Object.entries({
    guardduty: profile.guardduty,
    organizations: profile.organizations,
    sts: profile.sts,
  })) {
    for (const [name, value] of Object.entries(figures)) {
      if (!Number.isFinite(value) || value < 0)
        throw new Error(`--profile: ${service}.${name} must be a number ≥ 0`);
    }
  }
  if (!Number.isInteger(profile.existingAccounts) || profile.existingAccounts < 2)
    throw new Error("--profile: existingAccounts must be a whole number ≥ 2 (management + administrator)");
  return profile;
}

/** One line per service, as printed above every result. */
export function describeProfile(profile: Profile): string[] {
  const line = (name: string, service: ServiceProfile, scope: string) =>
    `${name}: ${service.latencyMs} ms per call, ${service.ratePerSecond} requests/s (burst ${service.burst}) ${scope}`;
  return [
    line("GuardDuty", profile.guardduty, `per API per region (${THROTTLED_GUARDDUTY_OPERATIONS.join(", ")})`),
    line("Organizations", profile.organizations, "across all its APIs"),
    `${line("STS", profile.sts, "for the administrator's AssumeRole into members")} — in the lower bound only: the sandbox answers STS without latency or throttle`,
    `Organization: the new accounts + ${profile.existingAccounts} existing ones (new accounts listed last)`,
  ];
}
