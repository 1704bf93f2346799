/**
 * The packaged handler's size and module-load time, against the same entry bundled with esbuild's
 * defaults for Node (CommonJS, default `mainFields`, no minification): what the choices in
 * serverless.yml `custom.esbuild` (ESM, `mainFields: module, main`, minified) buy at cold start.
 * Load time is the time to `import()` the bundle in a fresh `node` process, median of several runs.
 */
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { gzipSync } from "node:zlib";
import { build } from "esbuild";
import { bundleFunction } from "../local/bundle.ts";
import { readStack } from "../local/stack.ts";
import { median } from "./stats.ts";

const run = promisify(execFile);

export interface BundleFigures {
  readonly bytes: number;
  readonly gzipBytes: number;
  readonly loadMsMedian: number;
  readonly loadMsRuns: readonly number[];
}

export interface BundleFootprint {
  /** As `serverless package` builds it (serverless.yml `custom.esbuild`). */
  readonly packaged: BundleFigures;
  /** `esbuild --bundle --platform=node`, every other option left at its default. */
  readonly esbuildDefaults: BundleFigures;
  readonly runs: number;
}

/** The configuration the handler validates at import: loopback placeholders, never contacted. */
const IMPORT_ENV = {
  GUARDDUTY_REGIONS: "us-east-1",
  AWS_REGION: "us-east-1",
  RETRY_QUEUE_URL: "http://127.0.0.1:9/retry",
  // Acceptance is on by default (serverless.yml acceptInvitations): onboard then needs the member side's queue.
  ACCEPT_QUEUE_URL: "http://127.0.0.1:9/accept",
  DEAD_LETTER_QUEUE_URL: "http://127.0.0.1:9/dead-letter",
  ADMINISTRATOR_ACCOUNT_ID: "210987654321",
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
};

/** Prints how long `import()` of the file named by BUNDLE took, in ms (module load only, not node's boot). */
const LOAD_PROBE = `
const { pathToFileURL } = await import("node:url");
const started = performance.now();
await import(pathToFileURL(process.env.BUNDLE).href);
process.stdout.write(String(performance.now() - started));
`;

export async function measureBundles(runs = 7): Promise<BundleFootprint> {
  const stack = readStack();
  const packaged = await bundleFunction(stack.handler, stack.esbuild);
  const entry = `${stack.handler.slice(0, stack.handler.lastIndexOf("."))}.ts`;
  const dir = await mkdtemp(join(tmpdir(), "gd-onboard-defaults-"));
  try {
    const defaults = join(dir, "onboard.js");
    await build({
      entryPoints: [entry],
      outfile: defaults,
      bundle: true,
      platform: "node",
      logLevel: "error",
    });
    return {
      packaged: await measure(packaged.handlerFile, runs),
      esbuildDefaults: await measure(defaults, runs),
      runs,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function measure(file: string, runs: number): Promise<BundleFigures> {
  const content = await readFile(file);
  const loadMsRuns: number[] = [];
  for (let index = 0; index < runs; index++) {
    const { stdout } = await run(process.execPath, ["--input-type=module", "-e", LOAD_PROBE], {
      env: { ...IMPORT_ENV, BUNDLE: file },
    });
    loadMsRuns.push(Number(stdout));
  }
  return {
    bytes: content.length,
    gzipBytes: gzipSync(content).length,
    loadMsMedian: median(loadMsRuns),
    loadMsRuns,
  };
}
