import { execFile } from "node:child_process";
import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export interface Packaged {
  readonly dir: string;
  readonly template: CloudFormationTemplate;
  /** The Lambda artifact, unzipped: what AWS would run. */
  readonly artifactDir: string;
}

export interface CloudFormationTemplate {
  Resources: Record<string, { Type: string; Properties: Record<string, unknown> }>;
  Outputs?: Record<string, unknown>;
  Conditions?: Record<string, unknown>;
}

/**
 * Runs `serverless package` into a fresh folder, offline and without AWS credentials, exactly as a
 * user would before deploying, and unzips the artifact.
 */
export async function packageStack(args: string[] = []): Promise<Packaged> {
  const dir = await mkdtemp(join(tmpdir(), "gd-onboard-package-"));
  const env = {
    ...process.env,
    AWS_ACCESS_KEY_ID: "",
    AWS_SECRET_ACCESS_KEY: "",
    AWS_PROFILE: "",
    AWS_CONFIG_FILE: join(dir, "no-aws-config"),
    AWS_SHARED_CREDENTIALS_FILE: join(dir, "no-aws-credentials"),
    SLS_TELEMETRY_DISABLED: "1",
    SLS_NOTIFICATIONS_MODE: "off",
  };
  await run("npx", ["serverless", "package", "--package", dir, ...args], { env, timeout: 120_000 });
  const template = JSON.parse(
    await readFile(join(dir, "cloudformation-template-update-stack.json"), "utf8"),
  ) as CloudFormationTemplate;
  const artifactDir = join(dir, "artifact");
  await run("python3", ["-m", "zipfile", "-e", join(dir, "guardduty-onboarding.zip"), artifactDir]);
  return { dir, template, artifactDir };
}
