/**
 * The service profile a benchmark runs under: per-call latency and token-bucket throttles. AWS
 * publishes no numbers for GuardDuty's or Organizations' throttles, so these are assumptions, stated
 * and printed with every result; a figure means nothing without the profile it was measured under.
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
  /** Accounts already in the organization (management and administrator included) besides the new ones. */
  readonly existingAccounts: number;
}

export const DEFAULT_PROFILE: Profile = {
  guardduty: { latencyMs: 50, ratePerSecond: 10, burst: 20 },
  organizations: { latencyMs: 80, ratePerSecond: 5, burst: 10 },
  existingAccounts: 500,
};

/**
 * The administrator's member-management APIs, which the GuardDuty buckets throttle. Calls made inside
 * member accounts (an acceptance step) are not throttled: in AWS each account has its own quotas, and a
 * member makes a handful of calls. `ListDetectors` is made once per container and region.
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
  const service = (name: "guardduty" | "organizations"): ServiceProfile => ({
    ...base[name],
    ...(patch[name] as Partial<ServiceProfile> | undefined),
  });
  const profile: Profile = {
    guardduty: service("guardduty"),
    organizations: service("organizations"),
    existingAccounts: Number(patch.existingAccounts ?? base.existingAccounts),
  };
  for (const [name, value] of Object.entries({ ...profile.guardduty, ...profile.organizations })) {
    if (!Number.isFinite(value) || value < 0) throw new Error(`--profile: ${name} must be a number ≥ 0`);
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
    `Organization: the new accounts + ${profile.existingAccounts} existing ones (new accounts listed last)`,
  ];
}
