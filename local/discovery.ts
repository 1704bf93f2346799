/**
 * How the tooling finds a running `npm run sandbox` without pasted exports: while it runs, the sandbox
 * keeps a small JSON file at a well-known path — its pid, the operator's environment it prints, and the
 * onboard function's environment — and removes it when it stops. `gd-onboard --local` and `npm run
 * invoke` read it when their variables are not set, and trust it only while that pid is alive.
 */
import { readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Overrides the file's path (tests, or two checkouts side by side). */
export const LOCAL_STACK_FILE_VARIABLE = "GUARDDUTY_ONBOARDING_LOCAL_STACK_FILE";

type Env = Readonly<Record<string, string | undefined>>;

export interface LocalStackDescription {
  readonly version: 1;
  /** The process that serves the stack (`npm run sandbox`). */
  readonly pid: number;
  readonly startedAt: string;
  /** The operator's environment: endpoints, credentials (OperatorPolicy), queue URLs, regions. */
  readonly env: Readonly<Record<string, string>>;
  /** The onboard function's environment (its role's credentials, its stage configuration). */
  readonly functionEnv: Readonly<Record<string, string>>;
}

export type Discovery =
  | { readonly path: string; readonly description: LocalStackDescription; readonly reason?: undefined }
  | { readonly path: string; readonly description?: undefined; readonly reason: string };

/** Where the running local stack is described: `$GUARDDUTY_ONBOARDING_LOCAL_STACK_FILE`, else in the temp dir. */
export function localStackFile(env: Env = process.env): string {
  return env[LOCAL_STACK_FILE_VARIABLE] || join(tmpdir(), "guardduty-onboarding-local-stack.json");
}

/** Writes the description atomically (readers never see half a file), readable by its owner only. */
export function writeLocalStackFile(path: string, description: LocalStackDescription): void {
  const partial = `${path}.${description.pid}.tmp`;
  writeFileSync(partial, `${JSON.stringify(description, null, 2)}\n`, { mode: 0o600 });
  renameSync(partial, path);
}

/** Removes the file if it still names `pid` (another sandbox may have taken it over since). */
export function removeLocalStackFile(path: string, pid: number): void {
  if (readDescription(path).pid === pid) rmSync(path, { force: true });
}

/** The running local stack, or why there is none. */
export function discoverLocalStack(env: Env = process.env): Discovery {
  const path = localStackFile(env);
  const { description, reason } = readDescription(path);
  if (!description) return { path, reason };
  if (!alive(description.pid)) {
    return {
      path,
      reason: `the \`npm run sandbox\` that wrote ${path} (pid ${description.pid}) is no longer running`,
    };
  }
  return { path, description };
}

type Read =
  | { readonly description: LocalStackDescription; readonly pid: number; readonly reason?: undefined }
  | { readonly description?: undefined; readonly pid?: number; readonly reason: string };

function readDescription(path: string): Read {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") {
      return { reason: `no \`npm run sandbox\` is running (there is no ${path})` };
    }
    return { reason: `${path} cannot be read: ${(error as Error).message}` };
  }
  let value: Partial<LocalStackDescription> | null;
  try {
    value = JSON.parse(text) as Partial<LocalStackDescription> | null;
  } catch {
    return { reason: `${path} is not JSON` };
  }
  const pid = Number.isInteger(value?.pid) && (value?.pid ?? 0) > 0 ? value?.pid : undefined;
  if (
    value?.version !== 1 ||
    pid === undefined ||
    !isStringRecord(value.env) ||
    !isStringRecord(value.functionEnv)
  ) {
    return { reason: `${path} does not describe a local stack (version 1: pid, env, functionEnv)`, pid };
  }
  return { description: value as LocalStackDescription, pid };
}

function isStringRecord(value: unknown): value is Record<string, string> {
  return (
    typeof value === "object" &&
    value !== null &&
    Object.values(value).every((item) => typeof item === "string")
  );
}

/** Signal 0 checks that the process exists; EPERM means it does, under another user. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
