/**
 * Handler CPU time per (account, region) with zero latency: the deployable bundle, in a process of its
 * own, onboards batches of 100 new accounts against a fault-free sandbox (no latency, no throttle), and
 * the process's CPU time over the measured batches is divided by accounts × regions. One warm-up batch
 * runs first and is not counted, as a warm Lambda container would have done its cold start already.
 */
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { build } from "esbuild";
import { bundleFunction } from "../local/bundle.ts";
import { newAccountIds } from "../local/inputs.ts";
import { startLocalStack } from "../local/local-stack.ts";
import type { ProbeInput, ProbeOutput } from "./handler-cpu-probe.ts";
import type { Profile } from "./profile.ts";

export interface HandlerCpu {
  readonly microsPerAccountRegion: number;
  readonly accounts: number;
  readonly regions: number;
  readonly batches: number;
  readonly userMs: number;
  readonly systemMs: number;
  readonly wallMs: number;
  readonly method: string;
}

const BATCH_SIZE = 100;

export async function measureHandlerCpu(options: {
  regions: readonly string[];
  batches: number;
  seed: number;
  profile: Profile;
  acceptInvitations: boolean;
}): Promise<HandlerCpu> {
  const all = newAccountIds((options.batches + 1) * BATCH_SIZE, options.seed + 1);
  const local = await startLocalStack({
    regions: options.regions,
    withoutFunction: true,
    sandbox: {
      seed: options.seed,
      accountCount: options.profile.existingAccounts - 2,
      accounts: all.map((id) => ({ id })),
    },
    functionEnvironment: { ACCEPT_INVITATIONS: String(options.acceptInvitations) },
  });
  const dir = await mkdtemp(join(tmpdir(), "gd-onboard-cpu-"));
  try {
    const bundle = await bundleFunction(local.stack.handler, local.stack.esbuild);
    const probeFile = join(dir, "handler-cpu-probe.mjs");
    await build({
      entryPoints: ["bench/handler-cpu-probe.ts"],
      outfile: probeFile,
      bundle: true,
      platform: "node",
      format: "esm",
      target: "node20",
      logLevel: "error",
    });
    const batches = Array.from({ length: options.batches + 1 }, (_, index) =>
      all.slice(index * BATCH_SIZE, (index + 1) * BATCH_SIZE),
    );
    const input: ProbeInput = {
      handlerFile: bundle.handlerFile,
      handlerName: bundle.handlerName,
      warmup: batches.slice(0, 1),
      batches: batches.slice(1),
    };
    await writeFile(join(dir, "input.json"), JSON.stringify(input));
    await runProbe(probeFile, {
      ...local.functionEnv,
      PROBE_INPUT: join(dir, "input.json"),
      PROBE_OUTPUT: join(dir, "output.json"),
    });
    const output = JSON.parse(await readFile(join(dir, "output.json"), "utf8")) as ProbeOutput;
    if (output.failedRecords > 0)
      throw new Error(`the CPU probe's handler failed ${output.failedRecords} records`);
    const pairs = options.batches * BATCH_SIZE * options.regions.length;
    return {
      microsPerAccountRegion: (output.userMicros + output.systemMicros) / pairs,
      accounts: options.batches * BATCH_SIZE,
      regions: options.regions.length,
      batches: options.batches,
      userMs: output.userMicros / 1000,
      systemMs: output.systemMicros / 1000,
      wallMs: output.wallMs,
      method:
        `process.cpuUsage() of a child process running the packaged handler on ${options.batches} batches of ` +
        `${BATCH_SIZE} new accounts × ${options.regions.length} regions (after one warm-up batch), against a ` +
        "sandbox with no latency and no throttle in the parent process",
    };
  } finally {
    await local.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

function runProbe(file: string, env: Record<string, string>): Promise<void> {
  return new Promise((resolve, reject) => {
    // The handler's own log lines go nowhere; errors are kept for the message.
    const child = spawn(process.execPath, [file], { env, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-4000);
    });
    child.on("error", reject);
    child.on("exit", (code) =>
      code === 0 ? resolve() : reject(new Error(`the CPU probe exited with ${code}: ${stderr}`)),
    );
  });
}
