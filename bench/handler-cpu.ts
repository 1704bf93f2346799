/**
 * Handler CPU time with zero latency: a deployable bundle, in a process of its own, runs batches against
 * a fault-free sandbox (no latency, no throttle), and the process's CPU time over the measured batches is
 * divided by the work done. One warm-up batch runs first and is not counted, as a warm Lambda container
 * would have done its cold start already.
 *
 * - onboard: batches of 100 new accounts (serverless.yml's batch size), per (account, region);
 * - accept (acceptance on): the same accounts, once invited, as the accept function receives them from
 *   AcceptQueue — batches of its batch size, each request for every region — per member account (one
 *   AssumeRole, then the member's GuardDuty calls in every region).
 */
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { build } from "esbuild";
import { bundleFunction } from "../local/bundle.ts";
import { accountCreatedEvent, newAccountIds } from "../local/inputs.ts";
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
  /** The accept handler on the same accounts (acceptance on); per member account, all its regions. */
  readonly accept?: {
    readonly microsPerAccount: number;
    readonly accounts: number;
    readonly batchSize: number;
    readonly userMs: number;
    readonly systemMs: number;
    readonly wallMs: number;
  };
}

const BATCH_SIZE = 100;

export async function measureHandlerCpu(options: {
  regions: readonly string[];
  batches: number;
  seed: number;
  profile: Profile;
  acceptInvitations: boolean;
  /** The stage's membershipMode (default invitation). */
  mode?: "invitation" | "organization";
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
    // The onboard handler alone: with acceptance on it also hands each invited account to AcceptQueue.
    params: {
      acceptInvitations: String(options.acceptInvitations),
      membershipMode: options.mode ?? "invitation",
    },
  });
  const dir = await mkdtemp(join(tmpdir(), "gd-onboard-cpu-"));
  try {
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
    const chunks = (ids: readonly string[], size: number) =>
      Array.from({ length: Math.ceil(ids.length / size) }, (_, index) =>
        ids.slice(index * size, (index + 1) * size),
      );
    const batches = chunks(all, BATCH_SIZE).map((ids) => ids.map((id) => accountCreatedEvent(id)));
    const onboard = await probe(
      dir,
      "onboard",
      local.stack.functions.onboard?.handler ?? local.stack.handler,
      {
        env: local.functionEnv,
        esbuild: local.stack.esbuild,
        warmup: batches.slice(0, 1),
        batches: batches.slice(1),
      },
    );
    const pairs = options.batches * BATCH_SIZE * options.regions.length;

    const acceptFn = local.stack.functions.accept;
    let accept: HandlerCpu["accept"];
    if (options.acceptInvitations && options.mode !== "organization" && acceptFn) {
      // The same accounts, invited by the onboard run above, as onboard hands them to AcceptQueue.
      const size = acceptFn.eventSources[0]?.batchSize ?? 10;
      const request = (accountId: string) =>
        JSON.stringify({
          version: 1,
          accountId,
          attempt: 0,
          origin: "event",
          regions: options.regions,
          step: "accept",
        });
      const acceptBatches = chunks(all, size).map((ids) => ids.map(request));
      const warm = Math.ceil(BATCH_SIZE / size);
      const measured = await probe(dir, "accept", acceptFn.handler, {
        env: local.roleEnv("accept"),
        esbuild: local.stack.esbuild,
        warmup: acceptBatches.slice(0, warm),
        batches: acceptBatches.slice(warm),
      });
      // A measurement of failing work is void: every member must have accepted.
      const notEnabled = all.flatMap((id) =>
        options.regions.filter((region) => local.sandbox.status(id, region) !== "Enabled"),
      ).length;
      if (notEnabled > 0)
        throw new Error(`the CPU probe's accept handler left ${notEnabled} pairs not Enabled`);
      const accounts = all.length - warm * size;
      accept = {
        microsPerAccount: (measured.userMicros + measured.systemMicros) / accounts,
        accounts,
        batchSize: size,
        userMs: measured.userMicros / 1000,
        systemMs: measured.systemMicros / 1000,
        wallMs: measured.wallMs,
      };
    }
    return {
      microsPerAccountRegion: (onboard.userMicros + onboard.systemMicros) / pairs,
      accounts: options.batches * BATCH_SIZE,
      regions: options.regions.length,
      batches: options.batches,
      userMs: onboard.userMicros / 1000,
      systemMs: onboard.systemMicros / 1000,
      wallMs: onboard.wallMs,
      accept,
      method:
        `process.cpuUsage() of a child process running the packaged handler on ${options.batches} batches of ` +
        `${BATCH_SIZE} new accounts × ${options.regions.length} regions (after one warm-up batch), against a ` +
        "sandbox with no latency and no throttle in the parent process" +
        (accept
          ? `; accept: the same, on those accounts once invited, in batches of ${accept.batchSize} as AcceptQueue ` +
            "delivers them (after warm-up batches of the first 100)"
          : ""),
    };
  } finally {
    await local.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

/** Bundles a function as `serverless package` does and runs the probe on it in a child process. */
async function probe(
  dir: string,
  name: string,
  handler: string,
  input: {
    env: Readonly<Record<string, string>>;
    esbuild: Readonly<Record<string, unknown>>;
    warmup: string[][];
    batches: string[][];
  },
): Promise<ProbeOutput> {
  const bundle = await bundleFunction(handler, input.esbuild);
  const probeInput: ProbeInput = {
    handlerFile: bundle.handlerFile,
    handlerName: bundle.handlerName,
    warmup: input.warmup,
    batches: input.batches,
  };
  await writeFile(join(dir, `${name}-input.json`), JSON.stringify(probeInput));
  await runProbe(join(dir, "handler-cpu-probe.mjs"), {
    ...input.env,
    PROBE_INPUT: join(dir, `${name}-input.json`),
    PROBE_OUTPUT: join(dir, `${name}-output.json`),
  });
  const output = JSON.parse(await readFile(join(dir, `${name}-output.json`), "utf8")) as ProbeOutput;
  if (output.failedRecords > 0)
    throw new Error(`the CPU probe's ${name} handler failed ${output.failedRecords} records`);
  return output;
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
