/**
 * `npm run bench`: the pipeline against the limits. Each scenario runs the project's pipeline on the
 * local stack, the naive baseline, and computes the lower bound, all under one stated profile; then the
 * handler's CPU time and bundle footprint. Prints a table (or `--json`), optionally writes the figures
 * into BENCHMARKS.md (`--markdown`). A measurement: it exits 0 whether targets are met or not.
 */
import { execFileSync } from "node:child_process";
import { availableParallelism, loadavg } from "node:os";
import { parseArgs } from "node:util";
import { ACCEPT_CONCURRENCY } from "#shared/accept";
import { readStack } from "../local/stack.ts";
import { measureBundles } from "./bundle-footprint.ts";
import { measureHandlerCpu } from "./handler-cpu.ts";
import { burstLowerBound, type MemberSide, trickleLowerBound } from "./lower-bound.ts";
import { writeMarkdownBlock } from "./markdown-block.ts";
import { runNaive } from "./naive-run.ts";
import { runPipeline } from "./pipeline-run.ts";
import { DEFAULT_PROFILE, mergeProfile } from "./profile.ts";
import { DEFAULT_ENABLED_REGIONS, type ReconcileScaleReport, runReconcileScale } from "./reconcile-scale.ts";
import { type BenchReport, renderMarkdown, renderText, type ScenarioReport } from "./report.ts";
import { type Scenario, scenario } from "./scenario.ts";
import { burstTargets, ratiosOf, TRICKLE_ENABLED_P50_BASELINE, trickleTargets } from "./targets.ts";

const REGIONS = ["us-east-1", "eu-west-1", "ap-southeast-2", "eu-central-1", "us-west-2", "ap-northeast-1"];

const HELP = `Usage: npm run bench -- [options]

Benchmarks the onboarding pipeline on the local stack, as deployed (member-side acceptance on: time to
the last invitation and to the last Enabled member), against a naive per-account script and the lower
bound the throttles allow, under a stated latency/throttle profile.

  --scenarios LIST        burst,trickle,reconcile-scale (default: all three)
  --accounts N            burst: new accounts at once (default 1000)
  --regions N|a,b,c       regions (default 3: ${REGIONS.slice(0, 3).join(",")})
  --trickle N             trickle: accounts arriving one by one (default 50)
  --trickle-interval-ms N between trickle accounts (default: batching window + 2 s, so none coalesce)
  --naive-accounts N      burst: run the naive script on the first N accounts and extrapolate (default 100;
                          the same as --accounts runs it in full)
  --profile JSON          override the profile, e.g. '{"guardduty":{"ratePerSecond":5},"sts":{"latencyMs":20},"existingAccounts":200}'
  --mode M                membershipMode: invitation (default, as deployed) or organization (the stack's
                          account is the delegated administrator: CreateMembers alone enables, ⌈N/50⌉ a
                          region; no invitation, no member side; the naive script skips InviteMembers too)
  --no-accept             run with the stage parameter acceptInvitations=false: no member side, members
                          stay Invited (no Enabled figures; the Enabled and trickle targets are then missed)
  --trickle-baseline-ms N today's trickle p50 event → Enabled to compare with (default: the figure measured
                          on commit 014166f, bench/targets.ts)
  --scale-accounts N      reconcile-scale: organization accounts, all protected at the start (default 50000)
  --scale-regions N       reconcile-scale: the first N of the 17 default-enabled regions (default 17)
  --scale-baseline-accounts N
                          reconcile-scale: the one-process baseline's sample, extrapolated (default 5000; 0 skips it)
  --cpu-batches N         batches of 100 accounts for the handler CPU measurement (default 10; 0 skips it)
  --bundle-runs N         fresh processes per bundle load-time measurement (default 7; 0 skips it)
  --timeout-s N           give up waiting for a pipeline run to drain after N s (default 600)
  --seed N                seed of the organization (default 42)
  --json                  print one JSON document instead of the table
  --markdown FILE         also write the figures between the bench markers of FILE (e.g. BENCHMARKS.md;
                          bench-organization markers with --mode organization)
  -h, --help              this text
`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      scenarios: { type: "string", default: "burst,trickle,reconcile-scale" },
      "scale-accounts": { type: "string", default: "50000" },
      "scale-regions": { type: "string", default: "17" },
      "scale-baseline-accounts": { type: "string", default: "5000" },
      accounts: { type: "string", default: "1000" },
      regions: { type: "string", default: "3" },
      trickle: { type: "string", default: "50" },
      "trickle-interval-ms": { type: "string" },
      "naive-accounts": { type: "string", default: "100" },
      profile: { type: "string" },
      "no-accept": { type: "boolean", default: false },
      mode: { type: "string", default: "invitation" },
      "trickle-baseline-ms": { type: "string" },
      "cpu-batches": { type: "string", default: "10" },
      "bundle-runs": { type: "string", default: "7" },
      "timeout-s": { type: "string", default: "600" },
      seed: { type: "string", default: "42" },
      json: { type: "boolean", default: false },
      markdown: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return;
  }
  const started = Date.now();
  const loadAtStart = loadavg()[0] as number;
  const progress = (text: string) => process.stderr.write(`bench: ${text}\n`);
  const stack = readStack();
  const source = stack.eventSources[0];
  if (!source) throw new Error("serverless.yml declares no SQS event source");
  const profile = mergeProfile(DEFAULT_PROFILE, values.profile ? parseJson("--profile", values.profile) : {});
  const regions = /^\d+$/.test(values.regions)
    ? REGIONS.slice(0, Math.max(1, Math.min(REGIONS.length, Number(values.regions))))
    : values.regions.split(",").filter(Boolean);
  const seed = whole("--seed", values.seed);
  const acceptInvitations = !values["no-accept"];
  const mode = values.mode;
  if (mode !== "invitation" && mode !== "organization") {
    throw new Error(`--mode: "${mode}" must be "invitation" or "organization"`);
  }
  // The member side's concurrency: accept's event source × the accounts one invocation enters at once
  // (no more than a batch holds: one message per account).
  const acceptSource = stack.functions.accept?.eventSources[0];
  if (!acceptSource) throw new Error("serverless.yml declares no SQS event source for the accept function");
  const member: MemberSide = {
    concurrency: acceptSource.maximumConcurrency * Math.min(ACCEPT_CONCURRENCY, acceptSource.batchSize),
    mode,
  };
  const trickleBaseline =
    values["trickle-baseline-ms"] === undefined
      ? TRICKLE_ENABLED_P50_BASELINE
      : {
          p50Ms: whole("--trickle-baseline-ms", values["trickle-baseline-ms"]),
          source: "given with --trickle-baseline-ms",
        };
  const timeoutMs = whole("--timeout-s", values["timeout-s"]) * 1000;
  const wanted = new Set(values.scenarios.split(","));
  const scenarios: (ScenarioReport | ReconcileScaleReport)[] = [];

  if (wanted.has("burst")) {
    const burst = scenario("burst", { accounts: whole("--accounts", values.accounts), regions, seed });
    const accounts = burst.accountIds.length;
    progress(`burst: pipeline, ${accounts} accounts × ${regions.length} regions, ${mode} mode…`);
    const pipeline = await runPipeline(burst, { profile, acceptInvitations, mode, timeoutMs });
    const sample = Math.min(accounts, whole("--naive-accounts", values["naive-accounts"]));
    progress(`burst: naive baseline on ${sample} accounts…`);
    const naive = await runNaive(burst, profile, sample, mode);
    const lowerBound = burstLowerBound(accounts, regions.length, profile, member);
    scenarios.push({
      ...describe(burst),
      pipeline,
      naive,
      lowerBound,
      ...ratiosOf(pipeline, naive, lowerBound),
      targets: burstTargets(pipeline, lowerBound, profile, accounts, regions.length, member),
    });
  }
  if (wanted.has("trickle")) {
    const intervalMs =
      values["trickle-interval-ms"] === undefined
        ? // The local event source closes a batch at its first receive after the window, and a receive
          // waits up to 1 s: arrivals closer than window + 1 s can still share a batch.
          (source.maximumBatchingWindowSeconds + 2) * 1000
        : whole("--trickle-interval-ms", values["trickle-interval-ms"]);
    const trickle = scenario("trickle", {
      accounts: whole("--trickle", values.trickle),
      regions,
      intervalMs,
      seed,
    });
    const accounts = trickle.accountIds.length;
    progress(`trickle: pipeline and naive side by side, ${accounts} accounts, one every ${intervalMs} ms…`);
    // Both spend nearly all their time waiting for arrivals, each against its own sandbox.
    const [pipeline, naive] = await Promise.all([
      runPipeline(trickle, {
        profile,
        acceptInvitations,
        mode,
        timeoutMs: timeoutMs + accounts * intervalMs,
      }),
      runNaive(trickle, profile, accounts, mode),
    ]);
    const lowerBound = trickleLowerBound(accounts, regions.length, intervalMs, profile, member);
    scenarios.push({
      ...describe(trickle),
      pipeline,
      naive,
      lowerBound,
      ...ratiosOf(pipeline, naive, lowerBound),
      targets: trickleTargets(pipeline, trickleBaseline),
    });
  }

  if (wanted.has("reconcile-scale")) {
    scenarios.push(
      await runReconcileScale({
        accounts: whole("--scale-accounts", values["scale-accounts"]),
        regions: DEFAULT_ENABLED_REGIONS.slice(
          0,
          Math.max(1, whole("--scale-regions", values["scale-regions"])),
        ),
        profile,
        seed,
        timeoutMs: timeoutMs * 3,
        baselineAccounts: whole("--scale-baseline-accounts", values["scale-baseline-accounts"]),
        progress,
      }),
    );
  }

  const cpuBatches = whole("--cpu-batches", values["cpu-batches"]);
  if (cpuBatches > 0) progress(`handler CPU: ${cpuBatches} batches of 100 accounts…`);
  const handlerCpu =
    cpuBatches > 0
      ? await measureHandlerCpu({ regions, batches: cpuBatches, seed, profile, acceptInvitations, mode })
      : undefined;
  const bundleRuns = whole("--bundle-runs", values["bundle-runs"]);
  if (bundleRuns > 0) progress(`bundle: size and load time, ${bundleRuns} runs each…`);
  const bundle = bundleRuns > 0 ? await measureBundles(bundleRuns) : undefined;

  const report: BenchReport = {
    startedAt: new Date(started).toISOString(),
    durationMs: Date.now() - started,
    environment: {
      node: process.version,
      cpus: availableParallelism(),
      commit: commit(),
      // Other work on the machine shares its cores with the local stack: the 1-minute load average.
      loadAverage: { start: loadAtStart, end: loadavg()[0] as number },
    },
    profile,
    settings: {
      batchSize: source.batchSize,
      maximumBatchingWindowSeconds: source.maximumBatchingWindowSeconds,
      maximumConcurrency: source.maximumConcurrency,
      retryBaseDelaySeconds: Number(stack.params.retryBaseDelaySeconds ?? 30),
      acceptInvitations,
      membershipMode: mode,
      accept: {
        batchSize: acceptSource.batchSize,
        maximumBatchingWindowSeconds: acceptSource.maximumBatchingWindowSeconds,
        maximumConcurrency: acceptSource.maximumConcurrency,
        acceptConcurrency: ACCEPT_CONCURRENCY,
        memberConcurrency: member.concurrency,
      },
    },
    scenarios,
    handlerCpu,
    bundle,
    notes: [
      "Calls are HTTP requests the sandbox received, throttled ones included. GuardDuty figures count the " +
        "administrator's calls (ListDetectors once per onboard container and region, CreateMembers, InviteMembers, " +
        "GetMembers; in organization mode DescribeOrganizationConfiguration once per container and region, and " +
        "no InviteMembers); member-side calls are STS AssumeRole and the member accounts' own GuardDuty calls (their " +
        "ListDetectors, CreateDetector, ListInvitations, AcceptAdministratorInvitation, GetAdministratorAccount). " +
        "Event → invitation and event → Enabled are per (account, region), from the event's publication to " +
        "GuardDuty's invitedAt, and to the updatedAt of the Enabled member (its last status change); makespans " +
        "run from the first publication.",
      ...(wanted.has("trickle")
        ? [
            "The trickle's pipeline and naive runs go side by side, each against its own sandbox: both mostly wait for arrivals.",
          ]
        : []),
    ],
  };
  process.stdout.write(values.json ? `${JSON.stringify(report, null, 2)}\n` : `${renderText(report)}\n`);
  if (values.markdown) {
    const command = `npm run bench -- ${process.argv.slice(2).join(" ")}`.trim();
    // Each mode's figures have their own block: an organization-mode run leaves invitation mode's alone;
    // the reconcile-scale scenario has its own too, so a run of one scenario leaves the others' figures.
    const [scale, pipelines] = [
      scenarios.filter((entry) => entry.name === "reconcile-scale"),
      scenarios.filter((entry) => entry.name !== "reconcile-scale"),
    ];
    if (pipelines.length > 0)
      writeMarkdownBlock(
        values.markdown,
        mode === "organization" ? "bench-organization" : "bench",
        renderMarkdown({ ...report, scenarios: pipelines }, command),
      );
    if (scale.length > 0)
      writeMarkdownBlock(
        values.markdown,
        "bench-reconcile-scale",
        renderMarkdown({ ...report, scenarios: scale, handlerCpu: undefined, bundle: undefined }, command),
      );
    progress(`figures written to ${values.markdown}`);
  }
}

function describe(scenario: Scenario) {
  return {
    name: scenario.name,
    accounts: scenario.accountIds.length,
    regions: scenario.regions,
    intervalMs: scenario.intervalMs,
  };
}

function commit(): string {
  try {
    const head = execFileSync("git", ["rev-parse", "--short", "HEAD"], { encoding: "utf8" }).trim();
    const dirty = execFileSync("git", ["status", "--porcelain"], { encoding: "utf8" }).trim() !== "";
    return `commit ${head}${dirty ? " + uncommitted changes" : ""}`;
  } catch {
    return "commit unknown";
  }
}

function whole(flag: string, value: string): number {
  const number = Number(value);
  if (!Number.isInteger(number) || number < 0) throw new Error(`${flag}: "${value}" is not a whole number`);
  return number;
}

function parseJson(flag: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`${flag}: not JSON: ${text}`);
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`npm run bench: ${(error as Error)?.message ?? error}\n`);
    process.exit(1);
  },
);
