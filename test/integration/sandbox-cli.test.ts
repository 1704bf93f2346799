/**
 * `npm run sandbox` as a developer runs it, in its own process: what it prints works when pasted into a
 * shell with the AWS CLI v1 (botocore) of the project's machines, and while it runs `gd-onboard --local`
 * finds it without pasted exports, through the file it keeps (here in a temp dir, not the shared path).
 */
import { type ChildProcess, execFile, spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SQSClient } from "@aws-sdk/client-sqs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DeadLetterBody } from "#shared/dead-letter";
import { run } from "../../cli/main.ts";
import { LOCAL_STACK_FILE_VARIABLE, type LocalStackDescription } from "../../local/discovery.ts";
import { publish, sampleAccounts } from "../../local/inputs.ts";

const REGIONS = ["eu-west-1", "ap-southeast-2"];
const ACCOUNTS = 4;

let dir: string;
let file: string;
let sandbox: ChildProcess;
let stdout = "";
let stderr = "";
let exited: Promise<number | null>;

/** A shell as on a laptop with nothing configured: no AWS profile, no instance metadata, only PATH and HOME. */
function bareEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    AWS_CONFIG_FILE: "/nonexistent",
    AWS_SHARED_CREDENTIALS_FILE: "/nonexistent",
    AWS_EC2_METADATA_DISABLED: "true",
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
    [LOCAL_STACK_FILE_VARIABLE]: file,
    ...extra,
  };
}

function exec(command: string, args: string[], env: NodeJS.ProcessEnv) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(command, args, { env, cwd: process.cwd(), timeout: 20_000 }, (error, out, err) => {
      const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
      resolve({ code, stdout: out, stderr: err });
    });
  });
}

const exportLines = () => stdout.split("\n").filter((line) => line.startsWith("export "));
const exported = () =>
  Object.fromEntries(
    exportLines().map((line) => {
      const [, name = "", value = ""] = /^export ([A-Z0-9_]+)=(.*)$/.exec(line) ?? [];
      return [name, JSON.parse(value) as string];
    }),
  );
/** The example commands, as printed after `#   `. */
const hints = () =>
  stdout
    .split("\n")
    .filter((line) => line.startsWith("#   "))
    .map((line) => line.slice(4));

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "gd-onboard-sandbox-"));
  file = join(dir, "local-stack.json");
  sandbox = spawn(
    "node_modules/.bin/tsx",
    ["local/sandbox.ts", "--regions", REGIONS.join(","), "--accounts", String(ACCOUNTS)],
    { env: { ...process.env, [LOCAL_STACK_FILE_VARIABLE]: file }, stdio: ["ignore", "pipe", "pipe"] },
  );
  exited = new Promise((resolve) => sandbox.on("exit", (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`npm run sandbox printed no exports:\n${stderr}`)),
      20_000,
    );
    sandbox.stdout?.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
      if (stdout.includes("npm run invoke -- events/sqs/onboard-batch.json\n")) {
        clearTimeout(timer);
        resolve();
      }
    });
    sandbox.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    sandbox.on("exit", (code) => reject(new Error(`npm run sandbox exited (${code}):\n${stderr}`)));
  });
});

afterAll(async () => {
  if (sandbox.exitCode === null && sandbox.signalCode === null) {
    sandbox.kill("SIGTERM");
    await exited;
  }
});

describe("npm run sandbox", () => {
  it("exports the operator's environment with AWS_DEFAULT_REGION, not the onboard function's", () => {
    const env = exported();

    expect(env.AWS_DEFAULT_REGION).toBe("us-east-1");
    expect(env.AWS_REGION).toBe("us-east-1");
    expect(env.AWS_ACCESS_KEY_ID).toBe("ASIALOCALOPERATOR");
    expect(env.GUARDDUTY_REGIONS).toBe(REGIONS.join(","));
    for (const name of ["AWS_ENDPOINT_URL_SQS", "AWS_ENDPOINT_URL_GUARDDUTY", "ONBOARDING_QUEUE_URL"]) {
      expect(env[name], name).toMatch(/^http:\/\/127\.0\.0\.1:\d+/);
    }
    // The function's configuration and role stay out of the operator's shell.
    expect(env).not.toHaveProperty("MEMBERSHIP_MODE");
    expect(env).not.toHaveProperty("AWS_LAMBDA_FUNCTION_NAME");
  });

  it("prints example commands that succeed exactly as printed, with the AWS CLI v1 and the tooling", async () => {
    const commands = hints();
    expect(commands.map((command) => command.split(" ").slice(0, 2).join(" "))).toEqual([
      "aws sts",
      "aws guardduty",
      "aws organizations",
      "aws sqs",
      "npx gd-onboard",
      "npm run",
    ]);
    const exports = exportLines().join("\n");

    const results: Record<string, { code: number; stdout: string; stderr: string }> = {};
    for (const command of commands) {
      results[command] = await exec("bash", ["-c", `${exports}\n${command}`], bareEnv());
    }

    for (const [command, result] of Object.entries(results)) {
      expect(result.code, `${command}\n${result.stderr}`).toBe(0);
    }
    const [sts, guardduty, organizations, sqs, dlq, invoke] = commands.map((command) => results[command]);
    expect(JSON.parse(sts?.stdout ?? "")).toMatchObject({
      Account: "210987654321",
      Arn: "arn:aws:sts::210987654321:assumed-role/operator/gd-onboard",
    });
    expect(commands[1]).toContain(`--region ${REGIONS[0]}`);
    expect(JSON.parse(guardduty?.stdout ?? "").DetectorIds).toHaveLength(1);
    // The management and administrator accounts, the generated ones, and those the samples in events/ name.
    expect(JSON.parse(organizations?.stdout ?? "").Accounts).toHaveLength(
      ACCOUNTS + 2 + sampleAccounts().length,
    );
    expect(JSON.parse(sqs?.stdout ?? "")).toHaveProperty("MessageId");
    expect(dlq?.stdout).toContain(`DeadLetterQueue of the local stack: ${exported().DEAD_LETTER_QUEUE_URL}`);
    // npm prints its "> guardduty-onboarding@0.1.0 invoke" banner first; the function's answer follows.
    const answer = invoke?.stdout.slice(invoke.stdout.indexOf("\n{") + 1) ?? "";
    expect(JSON.parse(answer)).toEqual({ batchItemFailures: [] });
  });

  it("is found by gd-onboard --local without pasted exports, with the credentials it issued", async () => {
    const env = exported();
    const account = "510000000009";
    const body: DeadLetterBody = {
      reason: "access-denied",
      detail: "access-denied (test)",
      accountId: account,
      region: REGIONS[0] as string,
      at: new Date().toISOString(),
      attempt: 0,
      correlationId: `evt-${account}`,
      request: {
        version: 1,
        accountId: account,
        regions: [REGIONS[0] as string],
        attempt: 0,
        origin: "event",
        correlationId: `evt-${account}`,
      },
    };
    const sqs = new SQSClient({
      endpoint: env.AWS_ENDPOINT_URL_SQS,
      region: "us-east-1",
      credentials: { accessKeyId: "local", secretAccessKey: "local" },
    });
    await publish(sqs, env.DEAD_LETTER_QUEUE_URL as string, [JSON.stringify(body)]);
    sqs.destroy();
    const member = (
      JSON.parse(
        (
          await exec(
            "bash",
            ["-c", `${exportLines().join("\n")}\naws organizations list-accounts`],
            bareEnv(),
          )
        ).stdout,
      ) as { Accounts: { Id: string; Name: string }[] }
    ).Accounts.find((candidate) => candidate.Name.startsWith("workload-"));
    // Keys of a real account in the shell must not reach the sandbox, which knows only its own.
    const shell = bareEnv({ AWS_ACCESS_KEY_ID: "AKIAIOSFODNN7EXAMPLE", AWS_SECRET_ACCESS_KEY: "real" });

    const list = await exec("cli/gd-onboard.mjs", ["dlq", "list", "--local", "--account", account], shell);
    const status = await exec("cli/gd-onboard.mjs", ["status", member?.Id ?? "", "--local"], shell);

    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toContain(
      `DeadLetterQueue of the local stack (account ${account}): ${env.DEAD_LETTER_QUEUE_URL}`,
    );
    expect(list.stdout).toMatch(new RegExp(`pipeline\\s+access-denied\\s+${account}\\s+${REGIONS[0]}`));
    // Organizations and GuardDuty (GetMembers in each region) answered the operator's discovered keys.
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toContain(`${member?.Id}  organization: ACTIVE`);
    for (const region of REGIONS) expect(status.stdout).toMatch(new RegExp(`${region}\\s+not a member`));
  });

  it("removes its file when interrupted, and --local then says to start it", async () => {
    expect(existsSync(file)).toBe(true);

    sandbox.kill("SIGINT");
    const code = await exited;
    const list = await exec("cli/gd-onboard.mjs", ["dlq", "list", "--local"], bareEnv());

    expect(code).toBe(0);
    expect(existsSync(file)).toBe(false);
    expect(list.code).toBe(1);
    expect(list.stderr).toContain(`no \`npm run sandbox\` is running (there is no ${file})`);
    expect(list.stderr).toContain("run `npm run sandbox` in another shell");
  });
});

describe("gd-onboard --local", () => {
  it("does not trust the file of a sandbox that is no longer running", async () => {
    const stale = join(await mkdtemp(join(tmpdir(), "gd-onboard-stale-")), "local-stack.json");
    const gone = spawnSync("true").pid as number;
    const description: LocalStackDescription = {
      version: 1,
      pid: gone,
      startedAt: new Date().toISOString(),
      env: {
        AWS_ENDPOINT_URL_SQS: "http://127.0.0.1:9",
        ONBOARDING_QUEUE_URL: "http://127.0.0.1:9/123456789012/onboarding",
        DEAD_LETTER_QUEUE_URL: "http://127.0.0.1:9/123456789012/dead-letter",
        GUARDDUTY_REGIONS: "us-east-1",
      },
      functionEnv: {},
    };
    await writeFile(stale, JSON.stringify(description));
    let output = "";

    const code = await run(["dlq", "list", "--local"], {
      stdout: { write: (text: string) => (output += text) },
      stderr: { write: (text: string) => (output += text) },
      env: { [LOCAL_STACK_FILE_VARIABLE]: stale },
    });

    expect(code).toBe(1);
    expect(output).toContain(
      `the \`npm run sandbox\` that wrote ${stale} (pid ${gone}) is no longer running`,
    );
    expect(output).toContain("run `npm run sandbox` in another shell");
  });
});
