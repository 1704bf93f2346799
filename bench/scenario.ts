/**
 * What a benchmark scenario is: which new accounts arrive, into which regions, and when. A burst
 * publishes every account at once; a trickle publishes one every `intervalMs`, longer than the
 * batching window so that nothing can be coalesced.
 */
import { newAccountIds } from "../local/inputs.ts";
import type { SandboxOptions } from "../sandbox/server.ts";
import type { Profile } from "./profile.ts";

export interface Scenario {
  readonly name: "burst" | "trickle";
  readonly accountIds: readonly string[];
  readonly regions: readonly string[];
  /** 0 for a burst. */
  readonly intervalMs: number;
  readonly seed: number;
}

export function scenario(
  name: Scenario["name"],
  options: { accounts: number; regions: readonly string[]; intervalMs?: number; seed: number },
): Scenario {
  return {
    name,
    accountIds: newAccountIds(options.accounts, options.seed),
    regions: options.regions,
    intervalMs: name === "burst" ? 0 : (options.intervalMs ?? 0),
    seed: options.seed,
  };
}

/** When each account's event arrives, relative to the scenario's start (ms). */
export function arrivalOffsetMs(scenario: Scenario, index: number): number {
  return index * scenario.intervalMs;
}

/**
 * The organization a scenario runs in: management and administrator accounts, generated existing
 * accounts up to the profile's count, then the new accounts, listed last as the newest joiners.
 */
export function organizationOf(scenario: Scenario, profile: Profile): SandboxOptions {
  return {
    seed: scenario.seed,
    accountCount: profile.existingAccounts - 2,
    accounts: scenario.accountIds.map((id) => ({ id })),
  };
}
