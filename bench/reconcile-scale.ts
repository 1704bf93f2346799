/**
 * The `reconcile-scale` scenario: one scheduled reconcile of an organization of tens of thousands of
 * accounts in every default-enabled region (50,000 × 17 by default), on the local stack under the stated
 * profile. Every account starts protected (the sandbox seeds the members without calls), so the run is all
 * reading: ⌈N/20⌉ ListAccounts pages and, per region, ⌈N/50⌉ GetMembers, GetMemberDetectors and ListMembers
 * pages (the scan for departed accounts' members). What it
 * shows: the run is split into units no longer than the reconcile function's timeout, and how close its
 * wall time comes to the floor the throttles allow. Beside it, the baseline: the same reads in one process
 * (`readCoverage`, which the reconcile function did in one invocation before the split), measured on a
 * sample of the organization and extrapolated (both its phases grow linearly with the accounts).
 */
import { createClients } from "#shared/clients";
import { readCoverage } from "#shared/coverage";
import { DEFAULT_PROFILE as DEFAULT_PLANS, detectorFeatures, plansFor } from "#shared/protection";
import { startLocalStack } from "../local/local-stack.ts";
import { reconcileReport, startReconcile } from "../local/reconcile.ts";
import type { FeatureRequest } from "../sandbox/guardduty-features.ts";
import { ACCOUNTS_PER_LIST_PAGE, IDS_PER_GUARDDUTY_CALL } from "./lower-bound.ts";
import { type Profile, profileFaults } from "./profile.ts";
import type { Target } from "./targets.ts";

/** The regions every account has enabled by default (no opt-in): 17, so no ListRegions is needed. */
export const DEFAULT_ENABLED_REGIONS = [
  "us-east-1",
  "us-east-2",
  "us-west-1",
  "us-west-2",
  "ca-central-1",
  "sa-east-1",
  "eu-west-1",
  "eu-west-2",
  "eu-west-3",
  "eu-central-1",
  "eu-north-1",
  "ap-south-1",
  "ap-northeast-1",
  "ap-northeast-2",
  "ap-northeast-3",
  "ap-southeast-1",
  "ap-southeast-2",
];

export interface ReconcileScaleReport {
  readonly name: "reconcile-scale";
  /** Accounts of the organization, management and administrator included. */
  readonly organizationAccounts: number;
  /** Managed regions. */
  readonly regions: number;
  readonly regionNames: readonly string[];
  /** Schedule → the run's report written. */
  readonly wallTimeMs: number;
  /** The reconcile function's invocations: the schedule's and one per unit. */
  readonly invocations: number;
  readonly longestInvocationMs: number;
  /** The reconcile function's timeout (serverless.yml). */
  readonly invocationTimeoutMs: number;
  /** Organizations, GuardDuty and Account Management calls of the run ÷ organization accounts. */
  readonly callsPerAccount: number;
  readonly calls: Readonly<Record<string, number>>;
  readonly throttled: number;
  readonly failedInvocations: number;
  /** What the run measured. */
  readonly coverage: { readonly desired: number; readonly protected: number; readonly ratio: number };
  readonly lowerBound: { readonly wallTimeMs: number; readonly callsPerAccount: number };
  readonly baseline: {
    readonly description: string;
    readonly sampleAccounts: number;
    readonly sampleWallTimeMs: number;
    /** Extrapolated to the organization: sample time × organization ÷ sample. */
    readonly wallTimeMs: number;
    /** Lambda's longest timeout: one invocation can never run longer. */
    readonly lambdaMaximumTimeoutMs: number;
  };
  readonly targets: readonly Target[];
}

export interface ReconcileScaleOptions {
  readonly accounts: number;
  readonly regions: readonly string[];
  readonly profile: Profile;
  readonly seed: number;
  readonly timeoutMs: number;
  /** Organization accounts of the baseline's sample; 0 skips it. */
  readonly baselineAccounts: number;
  readonly progress: (text: string) => void;
}

export async function runReconcileScale(options: ReconcileScaleOptions): Promise<ReconcileScaleReport> {
  const { profile, regions, progress } = options;
  // The management and administrator accounts are in the organization too.
  const generated = Math.max(0, options.accounts - 2);
  progress(
    `reconcile-scale: seeding ${options.accounts} accounts × ${regions.length} regions, all protected…`,
  );
  const local = await startLocalStack({
    regions,
    sandbox: { seed: options.seed, accountCount: generated, maxMembers: 50_000 },
    onError: (message) => progress(`event source: ${message}`),
  });
  try {
    const { sandbox } = local;
    const organization = sandbox.accounts().map((account) => account.id);
    const members = organization.filter((id) => id !== sandbox.administratorAccountId);
    for (const region of regions) sandbox.seedMembers(members, [region], featureRequests(region));
    sandbox.setFaults(profileFaults(profile));
    sandbox.counters.reset();

    progress(
      `reconcile-scale: one reconcile run of ${organization.length} accounts × ${regions.length} regions…`,
    );
    const started = performance.now();
    const scheduleStarted = performance.now();
    await startReconcile(local, "bench-reconcile-scale", () => undefined);
    const scheduleMs = performance.now() - scheduleStarted;
    const report = await reconcileReport(local, "bench-reconcile-scale", options.timeoutMs);
    const wallTimeMs = performance.now() - started;
    const source = local.eventSources.find((candidate) => candidate.queue === "ReconcileQueue");
    if (!source) throw new Error("serverless.yml: the reconcile function has no ReconcileQueue event source");
    const snapshot = sandbox.counters.snapshot();
    const calls = Object.fromEntries(
      Object.entries(snapshot.calls).map(([operation, byRegion]) => [
        operation,
        Object.values(byRegion).reduce((sum, count) => sum + count, 0),
      ]),
    );
    const total = Object.values(calls).reduce((sum, count) => sum + count, 0);
    const fn = local.stack.functions.reconcile;
    const invocationTimeoutMs = (fn?.timeoutSeconds ?? 0) * 1000;
    const longestInvocationMs = Math.max(source.longestInvocationMs, scheduleMs);
    const lowerBound = reconcileLowerBound(organization.length, members.length, regions.length, profile);
    const baseline = await measureBaseline(options, organization.length);
    return {
      name: "reconcile-scale",
      organizationAccounts: organization.length,
      regions: regions.length,
      regionNames: regions,
      wallTimeMs: Math.round(wallTimeMs),
      invocations: source.stats.invocations + 1,
      longestInvocationMs: Math.round(longestInvocationMs),
      invocationTimeoutMs,
      callsPerAccount: total / organization.length,
      calls,
      throttled: sandbox.counters.throttled(),
      failedInvocations: source.stats.failedInvocations,
      coverage: {
        desired: report.summary.desired,
        protected: report.summary.protected,
        ratio: report.summary.ratio,
      },
      lowerBound,
      baseline,
      targets: [
        {
          name: "no invocation runs past its timeout",
          met: longestInvocationMs < invocationTimeoutMs && source.stats.timeouts === 0,
          value: `longest ${seconds(longestInvocationMs)} of ${seconds(invocationTimeoutMs)}, ${source.stats.timeouts} timeouts in ${source.stats.invocations + 1} invocations`,
          why: "a unit ran past the function's timeout",
        },
        {
          name: "the run completes and measures every pair",
          met: report.summary.desired === members.length * regions.length,
          value: `${report.summary.desired} desired pairs of ${members.length * regions.length}, coverage ${report.summary.ratio}`,
          why: "pairs were left out (a region failed, or a unit never ran)",
        },
      ],
    };
  } finally {
    await local.stop();
  }
}

/**
 * The floor: the listing is sequential (each page needs the previous page's token) at the Organizations
 * bucket's pace; each region's GetMembers, ⌈desired/50⌉ per chunk, at its own GuardDuty bucket's pace, in
 * parallel with the listing, and its ⌈members/50⌉ ListMembers pages (sequential, at that API's own bucket)
 * too — a scan that read the members beside the listing and compared at the end would not wait for it;
 * the last chunk's GetMembers and GetMemberDetectors after its last page.
 */
export function reconcileLowerBound(
  accounts: number,
  desired: number,
  regions: number,
  profile: Profile,
): { readonly wallTimeMs: number; readonly callsPerAccount: number } {
  const { organizations: org, guardduty: gd } = profile;
  const pages = Math.ceil(accounts / ACCOUNTS_PER_LIST_PAGE);
  const admitted = (calls: number, rate: number, burst: number) =>
    calls <= burst || rate <= 0 ? 0 : ((calls - burst) / rate) * 1000;
  const listing = Math.max(
    pages * org.latencyMs,
    admitted(pages, org.ratePerSecond, org.burst) + org.latencyMs,
  );
  const getMembers = Math.ceil(desired / IDS_PER_GUARDDUTY_CALL);
  const perRegion = admitted(getMembers, gd.ratePerSecond, gd.burst) + gd.latencyMs;
  const scan = Math.max(getMembers * gd.latencyMs, perRegion);
  const wallTimeMs = Math.max(listing, perRegion, scan) + 2 * gd.latencyMs;
  // Pages, and per region GetMembers + GetMemberDetectors (every member Enabled) + as many ListMembers
  // pages (every desired account a member) + one ListDetectors.
  const callsPerAccount = (pages + regions * (3 * getMembers + 1)) / accounts;
  return { wallTimeMs: Math.round(wallTimeMs), callsPerAccount };
}

/** Lambda's maximum function timeout, 900 s (Lambda quotas). */
const lambdaMaximumTimeoutMs = 900_000;

/** The baseline: the whole read in one process, on the first `baselineAccounts` of the organization. */
async function measureBaseline(
  options: ReconcileScaleOptions,
  organizationAccounts: number,
): Promise<ReconcileScaleReport["baseline"]> {
  const description =
    "the same reads in one process, as the reconcile function made them in one invocation before the split " +
    "(readCoverage: the whole listing, then every region)";
  const sample = Math.min(options.baselineAccounts, organizationAccounts);
  if (sample === 0)
    return { description, sampleAccounts: 0, sampleWallTimeMs: 0, wallTimeMs: 0, lambdaMaximumTimeoutMs };
  options.progress(`reconcile-scale: baseline, one process, on ${sample} accounts…`);
  // A sandbox of its own with the sample's accounts, under the same profile.
  const baseline = await startLocalStack({
    regions: options.regions,
    withoutFunction: true,
    sandbox: { seed: options.seed, accountCount: Math.max(0, sample - 2), maxMembers: 50_000 },
  });
  try {
    const { sandbox } = baseline;
    const members = sandbox
      .accounts()
      .map((account) => account.id)
      .filter((id) => id !== sandbox.administratorAccountId);
    for (const region of options.regions) sandbox.seedMembers(members, [region], featureRequests(region));
    sandbox.setFaults(profileFaults(options.profile));
    const env = baseline.roleEnv("reconcile");
    const started = performance.now();
    await readCoverage(createClients({ env, region: env.AWS_REGION }), {
      regions: options.regions,
      profile: DEFAULT_PLANS,
      administratorAccountId: sandbox.administratorAccountId,
    });
    const sampleWallTimeMs = performance.now() - started;
    return {
      description,
      sampleAccounts: sample,
      sampleWallTimeMs: Math.round(sampleWallTimeMs),
      wallTimeMs: Math.round((sampleWallTimeMs * organizationAccounts) / sample),
      lambdaMaximumTimeoutMs,
    };
  } finally {
    await baseline.stop();
  }
}

/** The stage's default plans as the sandbox takes them (every member starts protected). */
function featureRequests(region: string): FeatureRequest[] {
  return detectorFeatures(plansFor(DEFAULT_PLANS, region)).map((feature) => ({
    name: feature.Name as FeatureRequest["name"],
    status: feature.Status as FeatureRequest["status"],
    additional: (feature.AdditionalConfiguration ?? []).map((extra) => ({
      name: extra.Name as NonNullable<FeatureRequest["additional"]>[number]["name"],
      status: extra.Status as FeatureRequest["status"],
    })),
  }));
}

/** Text lines of the scenario, for the bench's table and BENCHMARKS.md. */
export function reconcileScaleLines(report: ReconcileScaleReport): { headline: string; facts: string[] } {
  const ratio = report.wallTimeMs / report.lowerBound.wallTimeMs;
  return {
    headline: `reconcile-scale: ${report.organizationAccounts} accounts × ${report.regions} regions, every pair protected at the start`,
    facts: [
      `Wall time (schedule → report): ${seconds(report.wallTimeMs)}; lower bound ${seconds(report.lowerBound.wallTimeMs)} (${ratio.toFixed(2)}×); ` +
        `baseline (${report.baseline.description}) ${report.baseline.sampleAccounts > 0 ? `${seconds(report.baseline.wallTimeMs)}, extrapolated from ${seconds(report.baseline.sampleWallTimeMs)} on ${report.baseline.sampleAccounts} accounts: as one invocation ${report.baseline.wallTimeMs > report.baseline.lambdaMaximumTimeoutMs ? "past" : "within"} Lambda's ${seconds(report.baseline.lambdaMaximumTimeoutMs)} maximum timeout` : "not run"}`,
      `Invocations: ${report.invocations} (the schedule's and one per unit), the longest ${seconds(report.longestInvocationMs)} of a ${seconds(report.invocationTimeoutMs)} timeout, ${report.failedInvocations} failed`,
      `Calls: ${report.callsPerAccount.toFixed(3)} per account (lower bound ${report.lowerBound.callsPerAccount.toFixed(3)}): ` +
        `${Object.entries(report.calls)
          .map(([operation, count]) => `${operation} ${count}`)
          .join(", ")}; ${report.throttled} throttled`,
      `Measured coverage: ${report.coverage.protected} of ${report.coverage.desired} desired pairs protected (${report.coverage.ratio})`,
    ],
  };
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}
