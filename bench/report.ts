/**
 * The benchmark's result as one document: the JSON `--json` prints, and its renderings — a table for
 * the terminal and the Markdown block `--markdown` writes into BENCHMARKS.md. Every rendering starts
 * with the profile, because the figures are only true under it.
 */
import type { BundleFootprint } from "./bundle-footprint.ts";
import type { HandlerCpu } from "./handler-cpu.ts";
import type { LowerBound } from "./lower-bound.ts";
import type { NaiveFigures } from "./naive-run.ts";
import type { PipelineFigures } from "./pipeline-run.ts";
import { describeProfile, type Profile } from "./profile.ts";
import { type ReconcileScaleReport, reconcileScaleLines } from "./reconcile-scale.ts";
import type { ScenarioRatios, Target } from "./targets.ts";

export interface ScenarioReport extends ScenarioRatios {
  readonly name: "burst" | "trickle";
  readonly accounts: number;
  readonly regions: readonly string[];
  readonly intervalMs: number;
  readonly pipeline: PipelineFigures;
  readonly naive: NaiveFigures;
  readonly lowerBound: LowerBound;
  /** The issue's targets for this scenario. */
  readonly targets: readonly Target[];
}

export interface BenchReport {
  readonly startedAt: string;
  readonly durationMs: number;
  readonly environment: {
    readonly node: string;
    readonly cpus: number;
    readonly commit: string;
    /** The machine's 1-minute load average when the run started and ended (other work shares the cores). */
    readonly loadAverage: { readonly start: number; readonly end: number };
  };
  /** An assumption: AWS publishes no throttle numbers. */
  readonly profile: Profile;
  readonly settings: {
    readonly batchSize: number;
    readonly maximumBatchingWindowSeconds: number;
    readonly maximumConcurrency: number;
    readonly retryBaseDelaySeconds: number;
    readonly acceptInvitations: boolean;
    /** The stage's membershipMode: organization mode has no invitation and no member side. */
    readonly membershipMode?: "invitation" | "organization";
    /** The member side: accept's event source (serverless.yml custom.accept) and shared/accept.ts. */
    readonly accept: {
      readonly batchSize: number;
      readonly maximumBatchingWindowSeconds: number;
      readonly maximumConcurrency: number;
      readonly acceptConcurrency: number;
      /** Member accounts entered at once: maximumConcurrency × min(acceptConcurrency, batchSize). */
      readonly memberConcurrency: number;
    };
  };
  readonly scenarios: readonly (ScenarioReport | ReconcileScaleReport)[];
  readonly handlerCpu?: HandlerCpu;
  readonly bundle?: BundleFootprint;
  readonly notes: readonly string[];
}

const load = (report: BenchReport) =>
  `load average ${report.environment.loadAverage.start.toFixed(1)} at the start, ${report.environment.loadAverage.end.toFixed(1)} at the end`;
const seconds = (ms: number) => (Number.isFinite(ms) ? `${(ms / 1000).toFixed(1)} s` : "—");
const fixed = (value: number, digits = 3) => (Number.isFinite(value) ? value.toFixed(digits) : "—");
const kib = (bytes: number) => `${(bytes / 1024).toFixed(0)} KiB`;

function rows(scenario: ScenarioReport): string[][] {
  const { pipeline, naive, lowerBound } = scenario;
  const naiveMark = naive.extrapolated ? "naive*" : "naive";
  return [
    ["", "pipeline", naiveMark, "lower bound"],
    ...(
      [
        ["GuardDuty administrator calls / (account, region)", (f) => fixed(f.guarddutyCallsPerAccountRegion)],
        ["member-side calls / (account, region)", (f) => fixed(f.memberSideCallsPerAccountRegion)],
        ["Organizations calls / account", (f) => fixed(f.organizationsCallsPerAccount)],
        ["time to the last invitation", (f) => seconds(f.makespanMs)],
        ["time to the last Enabled member", (f) => seconds(f.enabledMakespanMs)],
        ["p50 event → invitation", (f) => seconds(f.p50Ms)],
        ["p95 event → invitation", (f) => seconds(f.p95Ms)],
        ["p50 event → Enabled", (f) => seconds(f.enabledP50Ms)],
        ["p95 event → Enabled", (f) => seconds(f.enabledP95Ms)],
      ] as [string, (figures: PipelineFigures | NaiveFigures | LowerBound) => string][]
    ).map(([label, cell]) => [label, cell(pipeline), cell(naive), cell(lowerBound)]),
  ];
}

function headline(scenario: ScenarioReport): string {
  const what =
    scenario.name === "burst"
      ? `${scenario.accounts} new accounts at once`
      : `${scenario.accounts} accounts, one every ${seconds(scenario.intervalMs)}`;
  return `${scenario.name === "burst" ? "Burst" : "Trickle"}: ${what} × ${scenario.regions.length} regions (${scenario.regions.join(", ")})`;
}

function facts(scenario: ScenarioReport): string[] {
  const { pipeline, naive, lowerBound } = scenario;
  const perFunction = Object.entries(pipeline.functions)
    .map(([name, stats]) => `${name} ${stats.invocations} invocations in ${stats.containers} containers`)
    .join(", ");
  const organizationsCalls = Object.values(pipeline.calls.organizations).reduce((sum, n) => sum + n, 0);
  const timeline = Object.entries(pipeline.timeline)
    .map(([operation, phase]) => `${operation} ${seconds(phase.firstMs)}–${seconds(phase.lastMs)}`)
    .join(", ");
  return [
    `ratio to lower bound: last invitation ${fixed(scenario.ratioToLowerBound, 2)}×, last Enabled ` +
      `${fixed(scenario.enabledRatioToLowerBound, 2)}×, GuardDuty administrator calls ` +
      `${fixed(scenario.callRatiosToLowerBound.guardduty, 2)}×, Organizations calls ${fixed(scenario.callRatiosToLowerBound.organizations, 2)}× ` +
      `(${organizationsCalls} against ${lowerBound.organizationsCalls} ${lowerBound.organizationsPath}), member-side calls ` +
      `${fixed(scenario.callRatiosToLowerBound.memberSide, 2)}×, p50 event → invitation ${fixed(scenario.p50RatioToLowerBound, 1)}×, ` +
      `p50 event → Enabled ${fixed(scenario.enabledP50RatioToLowerBound, 1)}×`,
    `speedup over naive: ${fixed(scenario.speedupOverNaive, 2)}× ` +
      // The bound has no member side only in organization mode, where CreateMembers enables.
      (scenario.lowerBound.memberSideCallsPerAccountRegion === 0
        ? "(to the last member, Enabled by CreateMembers alone in organization mode)"
        : "(to the last invitation; the naive script accepts nothing)"),
    `pipeline: ${perFunction}, ${pipeline.throttled.guardduty} GuardDuty and ${pipeline.throttled.organizations} ` +
      `Organizations calls throttled, outcomes ${JSON.stringify(pipeline.outcomes)}, ${pipeline.deadLetters} dead letters, ` +
      `${pipeline.notInvitedPairs} (account, region) not invited, ${pipeline.notEnabledPairs} not Enabled, drained ` +
      `${pipeline.drained ? `in ${seconds(pipeline.drainedMs)}` : "NOT (timeout)"}`,
    ...(Object.keys(pipeline.calls.memberSide).length > 0
      ? [
          `pipeline member-side calls: ${fixed(pipeline.memberSideCallsPerAccountRegion)} per (account, region) ` +
            `(bound ${fixed(lowerBound.memberSideCallsPerAccountRegion)}): ${JSON.stringify(pipeline.calls.memberSide)}; ` +
            `invitation → Enabled p50 ${seconds(pipeline.invitedToEnabled.p50Ms)}, p95 ${seconds(pipeline.invitedToEnabled.p95Ms)}, ` +
            `max ${seconds(pipeline.invitedToEnabled.maxMs)}`,
        ]
      : []),
    ...(timeline ? [`phases (first–last call, from the first event): ${timeline}`] : []),
    `host CPU (the whole local stack, ${pipeline.hostCpu.cores} cores): ${fixed(pipeline.hostCpu.utilization * 100, 0)} % busy over the run` +
      (Number.isFinite(pipeline.hostCpu.memberPhaseUtilization)
        ? `, ${fixed(pipeline.hostCpu.memberPhaseUtilization * 100, 0)} % from the last invitation to the last Enabled member, ` +
          `when the main thread (sandbox with its IAM evaluation, SQS server, DynamoDB) was ${fixed(pipeline.hostCpu.memberPhaseMainThread * 100, 0)} % busy`
        : ""),
    naive.extrapolated
      ? `* naive measured on ${naive.measuredAccounts} of ${naive.accounts} accounts and extrapolated: the sample ` +
        "repeated back to back (the script is sequential and under every throttle, so its time is linear)"
      : `naive: run in full (${naive.measuredAccounts} accounts), ${naive.failures} failures skipped`,
  ];
}

function targetLines(targets: readonly Target[]): string[] {
  return targets.map(
    (target) =>
      `${target.met ? "met   " : "MISSED"} ${target.name}: ${target.value}${target.met ? "" : ` — ${target.why}`}`,
  );
}

function table(cells: string[][]): string[] {
  const widths = (cells[0] ?? []).map((_, column) =>
    Math.max(...cells.map((row) => (row[column] ?? "").length)),
  );
  return cells.map((row) =>
    row
      .map((cell, column) =>
        column === 0 ? cell.padEnd(widths[0] ?? 0) : cell.padStart(widths[column] ?? 0),
      )
      .join("  ")
      .trimEnd(),
  );
}

function settingsLine(report: BenchReport): string {
  const s = report.settings;
  const a = s.accept;
  return (
    `Pipeline settings (serverless.yml): membershipMode ${s.membershipMode ?? "invitation"}` +
    (s.membershipMode === "organization"
      ? " (the stack's account is the delegated administrator: CreateMembers alone enables; no member side)"
      : "") +
    `; onboard batch size ${s.batchSize}, batching window ${s.maximumBatchingWindowSeconds} s, ` +
    `maximum concurrency ${s.maximumConcurrency} per event source, retry base delay ${s.retryBaseDelaySeconds} s; ` +
    `member-side acceptance ${s.acceptInvitations ? "on" : "off"}: accept batch size ${a.batchSize}, batching window ` +
    `${a.maximumBatchingWindowSeconds} s, maximum concurrency ${a.maximumConcurrency}, ${a.acceptConcurrency} accounts at once ` +
    `per invocation (shared/accept.ts ACCEPT_CONCURRENCY): ${a.memberConcurrency} member accounts at once`
  );
}

function cpuAndBundle(report: BenchReport): string[] {
  const lines: string[] = [];
  if (report.handlerCpu) {
    const cpu = report.handlerCpu;
    lines.push(
      `Handler CPU with zero latency: ${fixed(cpu.microsPerAccountRegion / 1000, 3)} ms per (account, region) ` +
        `(${fixed(cpu.userMs + cpu.systemMs, 0)} ms CPU for ${cpu.accounts} accounts × ${cpu.regions} regions; ${cpu.method})`,
    );
    if (cpu.accept)
      lines.push(
        `Accept handler CPU with zero latency: ${fixed(cpu.accept.microsPerAccount / 1000, 2)} ms per member account ` +
          `(AssumeRole and ${cpu.regions} regions' member calls; ${fixed(cpu.accept.userMs + cpu.accept.systemMs, 0)} ms CPU ` +
          `for ${cpu.accept.accounts} accounts in batches of ${cpu.accept.batchSize}, ${fixed(cpu.accept.wallMs, 0)} ms wall)`,
      );
  }
  if (report.bundle) {
    const { packaged, esbuildDefaults, runs } = report.bundle;
    lines.push(
      `Handler bundle: packaged ${kib(packaged.bytes)} (${kib(packaged.gzipBytes)} gzip), loads in ${fixed(packaged.loadMsMedian, 0)} ms; ` +
        `esbuild defaults ${kib(esbuildDefaults.bytes)} (${kib(esbuildDefaults.gzipBytes)} gzip), loads in ` +
        `${fixed(esbuildDefaults.loadMsMedian, 0)} ms (median of ${runs} fresh node processes)`,
    );
  }
  return lines;
}

export function renderText(report: BenchReport): string {
  const lines = [
    `GuardDuty onboarding benchmark — ${report.startedAt}, node ${report.environment.node}, ${report.environment.cpus} CPUs, ${report.environment.commit}, ${load(report)}`,
    "Profile (an assumption — AWS publishes no throttle numbers):",
    ...describeProfile(report.profile).map((line) => `  ${line}`),
    settingsLine(report),
  ];
  for (const scenario of report.scenarios) {
    if (scenario.name === "reconcile-scale") {
      const { headline: title, facts: lines2 } = reconcileScaleLines(scenario);
      lines.push("", title, ...lines2.map((line) => `  ${line}`));
      lines.push("  Targets:", ...targetLines(scenario.targets).map((line) => `    ${line}`));
      continue;
    }
    lines.push("", headline(scenario), ...table(rows(scenario)).map((line) => `  ${line}`));
    lines.push(...facts(scenario).map((line) => `  ${line}`));
    if (scenario.targets.length > 0)
      lines.push("  Targets:", ...targetLines(scenario.targets).map((line) => `    ${line}`));
  }
  lines.push("", ...cpuAndBundle(report), ...report.notes, `Run time: ${seconds(report.durationMs)}`);
  return lines.join("\n");
}

/** The figures block of BENCHMARKS.md (between its markers). */
export function renderMarkdown(report: BenchReport, command: string): string {
  const lines = [
    `Measured ${report.startedAt} with \`${command}\` (node ${report.environment.node}, ${report.environment.cpus} CPUs, ${report.environment.commit}, ${load(report)}).`,
    "",
    "Profile (an assumption — AWS publishes no throttle numbers):",
    "",
    // The reconcile reads only: the new-account burst, STS and the pipeline's settings are not its concern.
    ...(onlyScale(report)
      ? describeProfile(report.profile)
          .slice(0, 2)
          .map((line) => `- ${line}`)
      : [...describeProfile(report.profile).map((line) => `- ${line}`), `- ${settingsLine(report)}`]),
  ];
  for (const scenario of report.scenarios) {
    if (scenario.name === "reconcile-scale") {
      const { headline: title, facts: lines2 } = reconcileScaleLines(scenario);
      lines.push("", `### ${title}`, "", ...lines2.map((line) => `- ${line}`), "", "Targets:", "");
      lines.push(
        ...targetLines(scenario.targets).map((line) => `- ${line.replace(/^(met|MISSED)\s*/, "**$1** ")}`),
      );
      continue;
    }
    const cells = rows(scenario);
    lines.push("", `### ${headline(scenario)}`, "");
    lines.push(
      `| ${(cells[0] ?? []).join(" | ")} |`,
      `| --- | ${(cells[0] ?? [])
        .slice(1)
        .map(() => "---:")
        .join(" | ")} |`,
    );
    for (const row of cells.slice(1)) lines.push(`| ${row.join(" | ")} |`);
    // A leading "*" (the extrapolation footnote) would open a nested list.
    lines.push("", ...facts(scenario).map((line) => `- ${line.replace(/^\*/, "\\*")}`));
    if (scenario.targets.length > 0) {
      lines.push(
        "",
        "Targets:",
        "",
        ...targetLines(scenario.targets).map((line) => `- ${line.replace(/^(met|MISSED)\s*/, "**$1** ")}`),
      );
    }
  }
  if (!onlyScale(report))
    lines.push("", ...[...cpuAndBundle(report), ...report.notes].map((line) => `- ${line}`));
  return lines.join("\n");
}

/** A report of the reconcile-scale scenario alone. */
function onlyScale(report: BenchReport): boolean {
  return report.scenarios.every((scenario) => scenario.name === "reconcile-scale");
}
