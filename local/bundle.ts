/**
 * Builds the handler exactly as `serverless package` does (the esbuild options come from
 * `custom.esbuild` in serverless.yml), plus the local Lambda runtime that hosts it in a worker thread.
 * The local stack therefore runs the deployable bundle, not the TypeScript sources.
 */
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { build } from "esbuild";

export interface Bundle {
  /** Absolute path of the bundled handler module. */
  readonly handlerFile: string;
  /** Exported handler name, e.g. `handler`. */
  readonly handlerName: string;
  /** Absolute path of the bundled worker-side runtime. */
  readonly runtimeFile: string;
}

export async function bundleFunction(
  handler: string,
  options: Readonly<Record<string, unknown>>,
): Promise<Bundle> {
  const [modulePath, handlerName = "handler"] = [
    handler.slice(0, handler.lastIndexOf(".")),
    handler.slice(handler.lastIndexOf(".") + 1),
  ];
  const outdir = await mkdtemp(join(tmpdir(), "gd-onboard-local-"));
  const extension = String(options.outputFileExtension ?? ".js");
  await build({
    entryPoints: { [modulePath]: `${modulePath}.ts`, "local/lambda-runtime": "local/lambda-runtime.ts" },
    outdir,
    bundle: options.bundle !== false,
    minify: Boolean(options.minify),
    keepNames: Boolean(options.keepNames),
    sourcemap: Boolean(options.sourcemap),
    target: String(options.target ?? "node22"),
    platform: "node",
    format: options.format === "esm" ? "esm" : "cjs",
    mainFields: options.mainFields as string[] | undefined,
    banner: options.banner as Record<string, string> | undefined,
    outExtension: { ".js": extension },
    logLevel: "error",
  });
  return {
    handlerFile: join(outdir, `${modulePath}${extension}`),
    handlerName,
    runtimeFile: join(outdir, `local/lambda-runtime${extension}`),
  };
}
