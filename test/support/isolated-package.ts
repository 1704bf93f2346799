import { execFile } from "node:child_process";
import { cp, mkdtemp, readFile, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { promisify } from "node:util";
import type { CloudFormationTemplate } from "./package.ts";

const run = promisify(execFile);

/** What a copy of the project leaves out: dependencies are linked, build and VCS state is not needed. */
const LEFT_OUT = new Set(["node_modules", ".git", ".serverless", ".esbuild", "coverage"]);

export interface IsolatedPackage {
  /** The `--package` folder: the CloudFormation templates and the artifact zip. */
  readonly dir: string;
  readonly templateFile: string;
  readonly template: CloudFormationTemplate;
}

/**
 * `serverless package` (offline, no credentials) in a private copy of the project. serverless-esbuild
 * builds in `<project>/.esbuild` and deletes it afterwards, so two test files packaging the same
 * checkout at once (vitest runs files in parallel) would delete each other's build; a copy with
 * `node_modules` linked cannot collide with `packageStack` or another copy.
 */
export async function packageIsolated(args: readonly string[] = []): Promise<IsolatedPackage> {
  const root = await mkdtemp(join(tmpdir(), "gd-onboard-isolated-"));
  const project = join(root, "project");
  const dir = join(root, "package");
  await cp(process.cwd(), project, {
    recursive: true,
    filter: (source) => !LEFT_OUT.has(basename(source)),
  });
  await symlink(join(process.cwd(), "node_modules"), join(project, "node_modules"), "dir");
  const env = {
    ...process.env,
    AWS_ACCESS_KEY_ID: "",
    AWS_SECRET_ACCESS_KEY: "",
    AWS_PROFILE: "",
    AWS_CONFIG_FILE: join(root, "no-aws-config"),
    AWS_SHARED_CREDENTIALS_FILE: join(root, "no-aws-credentials"),
    SLS_TELEMETRY_DISABLED: "1",
    SLS_NOTIFICATIONS_MODE: "off",
  };
  await run("npx", ["serverless", "package", "--package", dir, ...args], {
    cwd: project,
    env,
    timeout: 120_000,
  });
  const templateFile = join(dir, "cloudformation-template-update-stack.json");
  const template = JSON.parse(await readFile(templateFile, "utf8")) as CloudFormationTemplate;
  return { dir, templateFile, template };
}
