/**
 * Runs the sandbox from the command line and prints the environment to point AWS clients at it:
 *
 *   npx tsx sandbox/main.ts [--port N] [--seed N] [--accounts N] [--mode invitation|organization]
 *
 * Stop it with Ctrl-C.
 */
import { parseArgs } from "node:util";
import { startSandbox } from "./server.ts";

function integer(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) {
    return fallback;
  }
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0) {
    throw new Error(`--${name} must be a non-negative integer, got "${value}"`);
  }
  return parsed;
}

const { values } = parseArgs({
  options: {
    port: { type: "string" },
    seed: { type: "string" },
    accounts: { type: "string" },
    mode: { type: "string" },
    help: { type: "boolean", short: "h" },
  },
});

if (values.help) {
  console.log(
    "usage: npx tsx sandbox/main.ts [--port N] [--seed N] [--accounts N] [--mode invitation|organization]",
  );
  process.exit(0);
}

const mode = values.mode ?? "invitation";
if (mode !== "invitation" && mode !== "organization") {
  throw new Error(`--mode must be "invitation" or "organization", got "${mode}"`);
}

const sandbox = await startSandbox({
  port: integer(values.port, "port", 0),
  seed: integer(values.seed, "seed", 1),
  accountCount: integer(values.accounts, "accounts", 25),
  mode,
});

const exports = {
  ...sandbox.env(),
  AWS_ACCESS_KEY_ID: "sandbox",
  AWS_SECRET_ACCESS_KEY: "sandbox",
  AWS_REGION: "us-east-1",
};
console.log(`# GuardDuty + Organizations sandbox listening on ${sandbox.url}`);
console.log(
  `# administrator ${sandbox.administratorAccountId}, management ${sandbox.managementAccountId}, ` +
    `${sandbox.accounts().length} accounts, ${mode} mode`,
);
for (const [name, value] of Object.entries(exports)) {
  console.log(`export ${name}=${value}`);
}

const stop = (): void => {
  sandbox.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.once("SIGINT", stop);
process.once("SIGTERM", stop);
