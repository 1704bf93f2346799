/**
 * `npm run chaos`: N accounts × 3 regions through the local stack under every fault at once, then the
 * invariants, printed; exits 1 on any breach. Bounded: it stops waiting after `--timeout-s`, and a run
 * that has not drained by then breaches "nothing left in the source queues".
 */
import { parseArgs } from "node:util";
import { DEFAULT_CHAOS_FAULTS } from "./chaos-faults.ts";
import { type ChaosReport, runChaos } from "./chaos-run.ts";
import { writeMarkdownBlock } from "./markdown-block.ts";

const HELP = `Usage: npm run chaos -- [options]

Onboards N new accounts (plus two members of another administrator, one account outside the
organization and malformed bodies) through the local stack, as deployed (member-side acceptance on),
while the sandbox and the event sources inject faults, then checks that nothing was lost: every
(account, region) Enabled or dead-lettered with a reason, nothing left on OnboardingQueue, RetryQueue or
AcceptQueue, no second invitation, malformed bodies in the DLQ verbatim.

  --accounts N       new accounts (default 500)
  --regions a,b,c    regions (default us-east-1,eu-west-1,ap-southeast-2)
  --seed N           seed of the organization, the order of messages and every fault (default 7)
  --faults JSON      faults over the defaults, e.g. '{"crashRate":0.2,"latencySpike":{"rate":0.05,"ms":2000}}'
                     (sandbox faults as in sandbox/faults.ts, plus "crashRate" and "duplicateRate")
  --mode M           membershipMode: invitation (default, as deployed) or organization (the stack's account
                     is the delegated administrator: CreateMembers alone enables, no member side)
  --malformed N      malformed bodies mixed in (default 5)
                     (the first container of each event source also crashes right after an invitation)
  --visibility-s N   source queues' visibility timeout, so crashed batches reappear quickly (default 15)
  --sdk-timeout-ms N the function's SDK_REQUEST_TIMEOUT_MS, below the spikes (default 1000)
  --timeout-s N      stop waiting for the queues to drain after N s (default 420)
  --json             print one JSON document (figures and an "invariants" object of booleans)
  --logs FILE        append every line the functions log to FILE (to follow an account through a breach)
  --markdown FILE    also write the result between the chaos markers of FILE (e.g. BENCHMARKS.md;
                     chaos-organization markers with --mode organization)
  -h, --help         this text

Default faults: ${JSON.stringify(DEFAULT_CHAOS_FAULTS)}
`;

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      accounts: { type: "string", default: "500" },
      regions: { type: "string", default: "us-east-1,eu-west-1,ap-southeast-2" },
      seed: { type: "string", default: "7" },
      faults: { type: "string" },
      malformed: { type: "string", default: "5" },
      mode: { type: "string", default: "invitation" },
      "visibility-s": { type: "string", default: "15" },
      "sdk-timeout-ms": { type: "string", default: "1000" },
      "timeout-s": { type: "string", default: "420" },
      json: { type: "boolean", default: false },
      logs: { type: "string" },
      markdown: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const faults = { ...DEFAULT_CHAOS_FAULTS, ...(values.faults ? parseFaults(values.faults) : {}) };
  const regions = values.regions.split(",").filter(Boolean);
  const mode = values.mode;
  if (mode !== "invitation" && mode !== "organization") {
    throw new Error(`--mode: "${mode}" must be "invitation" or "organization"`);
  }
  process.stderr.write(
    `chaos: ${values.accounts} accounts × ${regions.length} regions, ${mode} mode, seed ${values.seed}…\n`,
  );
  const report = await runChaos({
    accounts: whole("--accounts", values.accounts),
    regions,
    seed: whole("--seed", values.seed),
    faults,
    malformed: whole("--malformed", values.malformed),
    // Besides the seeded crashes: each event source's first container dies right after an invitation.
    crashAfterInvitation: [0],
    visibilityTimeoutSeconds: whole("--visibility-s", values["visibility-s"]),
    // As deployed, the member side runs (or, in organization mode, CreateMembers enables): every pair must
    // end Enabled, or dead-lettered with a reason.
    requireEnabled: true,
    membershipMode: mode,
    logFile: values.logs,
    sdkRequestTimeoutMs: whole("--sdk-timeout-ms", values["sdk-timeout-ms"]),
    timeoutMs: whole("--timeout-s", values["timeout-s"]) * 1000,
  });
  process.stdout.write(values.json ? `${JSON.stringify(report, null, 2)}\n` : `${render(report)}\n`);
  if (values.markdown) {
    const command = `npm run chaos -- ${process.argv.slice(2).join(" ")}`.trim();
    const block = [
      `Run ${new Date().toISOString()} with \`${command}\`:`,
      "",
      "```text",
      render(report),
      "```",
    ];
    writeMarkdownBlock(
      values.markdown,
      mode === "organization" ? "chaos-organization" : "chaos",
      block.join("\n"),
    );
  }
  return Object.values(report.invariants).every(Boolean) ? 0 : 1;
}

function render(report: ChaosReport): string {
  const lines = [
    `Chaos run — seed ${report.seed}, ${report.accounts} accounts × ${report.regions.length} regions (${report.regions.join(", ")}), ${(report.wallTimeMs / 1000).toFixed(1)} s`,
    `Faults: ${JSON.stringify(report.faults)}`,
    `Settings for chaos (not the product's): ${JSON.stringify(report.settings)}`,
    `Injected: ${JSON.stringify(report.injected)}; SDK requestTimeout warnings (calls held past it, not aborted): ${report.sdkTimeoutWarnings}`,
    `Member status: ${JSON.stringify(report.statuses)}`,
    `Outcomes decided: ${JSON.stringify(report.outcomes)}`,
    `Dead-letter queue by reason: ${JSON.stringify(report.deadLettersByReason)}`,
    ...Object.entries(report.deadLetterExamples).map(([reason, example]) => `  e.g. ${reason}: ${example}`),
    `(account, region) not onboarded, dead-lettered, by reason: ${JSON.stringify(report.deadLetteredPairs)}`,
    `(account, region) onboarded and yet dead-lettered, by reason: ${JSON.stringify(report.needlesslyDeadLettered)}`,
    `(account, region) members neither Enabled nor dead-lettered, by their last logged outcome: ${JSON.stringify(report.notEnabledByLastOutcome)}`,
    "",
    "Invariants:",
  ];
  for (const [name, holds] of Object.entries(report.invariants)) {
    lines.push(`  ${holds ? "holds " : "BREACH"} ${name}`);
    for (const example of report.breaches[name] ?? []) lines.push(`         ${example}`);
  }
  return lines.join("\n");
}

function whole(flag: string, value: string): number {
  const number = Number(value);
  if (!Number.isInteger(number) || number < 0) throw new Error(`${flag}: "${value}" is not a whole number`);
  return number;
}

function parseFaults(json: string): Record<string, unknown> {
  try {
    return JSON.parse(json) as Record<string, unknown>;
  } catch {
    throw new Error(`--faults: not JSON: ${json}`);
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`npm run chaos: ${(error as Error)?.message ?? error}\n`);
    process.exit(2);
  },
);
