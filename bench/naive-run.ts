/**
 * Runs the naive baseline against its own sandbox under the same profile and organization as the
 * pipeline. A burst can run on a sample of its accounts: the script is sequential and, at one call at
 * a time, stays under every bucket of the profile, so its time grows linearly with the accounts; the
 * figures for all N are then the sample repeated back to back, and say so (`measuredAccounts`).
 */
import { startSandbox } from "../sandbox/server.ts";
import { figuresOf, type RunFigures } from "./figures.ts";
import { memberTimes } from "./invitations.ts";
import { NaiveOnboarding } from "./naive.ts";
import { type Profile, profileFaults } from "./profile.ts";
import { arrivalOffsetMs, organizationOf, type Scenario } from "./scenario.ts";
import { percentile } from "./stats.ts";

export interface NaiveFigures extends RunFigures {
  /** Accounts actually run; fewer than `accounts` means the figures are extrapolated from them. */
  readonly measuredAccounts: number;
  readonly extrapolated: boolean;
  /** Errors and unprocessed accounts the script met and moved past. */
  readonly failures: number;
}

export async function runNaive(
  scenario: Scenario,
  profile: Profile,
  sample: number,
  mode: "invitation" | "organization" = "invitation",
): Promise<NaiveFigures> {
  const measured = scenario.intervalMs === 0 ? scenario.accountIds.slice(0, sample) : scenario.accountIds;
  const sandbox = await startSandbox({
    administratorAccountId: "210987654321",
    ...organizationOf(scenario, profile),
    faults: profileFaults(profile),
    mode,
  });
  const naive = new NaiveOnboarding(sandbox.url, scenario.regions, mode);
  try {
    await naive.prepare();
    const publishedAt = new Map<string, number>();
    const origin = Date.now();
    for (const [index, accountId] of measured.entries()) {
      // A burst's events all arrive at once; a trickle's on its schedule, each handled on arrival.
      const arrival = origin + arrivalOffsetMs(scenario, index);
      publishedAt.set(accountId, arrival);
      const wait = arrival - Date.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      await naive.onboard(accountId);
    }
    const counters = sandbox.counters.snapshot();
    // The script never enters member accounts: its members stay Invited (no Enabled figures).
    const { invitedAt, enabledAt } = await memberTimes(sandbox, measured, scenario.regions, mode);
    const figures = figuresOf({
      accounts: measured,
      regions: scenario.regions,
      counters,
      publishedAt,
      invitedAt,
      enabledAt,
      administratorListDetectors: scenario.regions.length,
    });
    const result = {
      ...figures,
      measuredAccounts: measured.length,
      extrapolated: false,
      failures: naive.failures,
    };
    return measured.length < scenario.accountIds.length
      ? extrapolate(result, scenario, publishedAt, invitedAt, mode)
      : result;
  } finally {
    naive.destroy();
    await sandbox.close();
  }
}

/**
 * The whole burst as the measured sample repeated back to back: copy `c` of a sample account is
 * invited `c` sample-makespans later than the sample account was. Calls scale with the accounts,
 * except the one `ListDetectors` per region.
 */
function extrapolate(
  sample: NaiveFigures,
  scenario: Scenario,
  publishedAt: ReadonlyMap<string, number>,
  invitedAt: ReadonlyMap<string, number>,
  mode: "invitation" | "organization",
): NaiveFigures {
  const accounts = scenario.accountIds.length;
  const measured = [...publishedAt.keys()];
  const period = sample.makespanMs;
  const latencies: number[] = [];
  for (let index = 0; index < accounts; index++) {
    const accountId = measured[index % measured.length] as string;
    for (const region of scenario.regions) {
      const invited = invitedAt.get(`${accountId}/${region}`);
      const published = publishedAt.get(accountId) as number;
      if (invited !== undefined)
        latencies.push(invited - published + Math.floor(index / measured.length) * period);
    }
  }
  const scale = accounts / measured.length;
  const regions = scenario.regions.length;
  const listDetectors = sample.calls.guardduty.ListDetectors ?? 0;
  const guarddutyCalls = sample.guarddutyCallsPerAccountRegion * measured.length * regions;
  return {
    ...sample,
    accounts,
    guarddutyCallsPerAccountRegion:
      ((guarddutyCalls - listDetectors) * scale + listDetectors) / (accounts * regions),
    makespanMs: Math.max(...latencies),
    p50Ms: percentile(latencies, 0.5),
    p95Ms: percentile(latencies, 0.95),
    calls: {
      guardduty: scaleCounts(sample.calls.guardduty, scale, ["ListDetectors"]),
      organizations: scaleCounts(sample.calls.organizations, scale, []),
      memberSide: scaleCounts(sample.calls.memberSide, scale, []),
    },
    invitedPairs: latencies.length,
    notInvitedPairs: accounts * regions - latencies.length,
    // Organization mode: CreateMembers enabled each member, so its times are the Enabled ones too.
    ...(mode === "organization"
      ? {
          enabledMakespanMs: Math.max(...latencies),
          enabledP50Ms: percentile(latencies, 0.5),
          enabledP95Ms: percentile(latencies, 0.95),
          enabledPairs: latencies.length,
          notEnabledPairs: accounts * regions - latencies.length,
        }
      : { enabledPairs: 0, notEnabledPairs: accounts * regions }),
    extrapolated: true,
  };
}

function scaleCounts(counts: Record<string, number>, scale: number, fixed: string[]): Record<string, number> {
  return Object.fromEntries(
    Object.entries(counts).map(([operation, calls]) => [
      operation,
      fixed.includes(operation) ? calls : Math.round(calls * scale),
    ]),
  );
}
