/**
 * `npm run invoke -- FILE`: one invocation of the onboard function's deployable bundle, in a local
 * container, with an SQS event from FILE (e.g. events/sqs/onboard-batch.json), with the function's own
 * environment (its role's credentials, its stage configuration): the one set in this shell if there is
 * one, else the one a running `npm run sandbox` describes (`./discovery.ts`).
 * (`serverless invoke local` cannot run offline: the function's environment refers to the stack's
 * queues through CloudFormation, which it would have to ask.)
 */
import { readFileSync } from "node:fs";
import { bundleFunction } from "./bundle.ts";
import { Container } from "./container.ts";
import { discoverLocalStack } from "./discovery.ts";
import { readStack } from "./stack.ts";

const file = process.argv[2];
if (!file || file === "--help" || file === "-h") {
  process.stdout.write(`Usage: npm run invoke -- FILE

Invokes the onboard function once with the SQS event in FILE (see events/sqs/), with the function's
environment: the one set in this shell, else that of the running \`npm run sandbox\` (found by itself).
Prints the partial batch response; the function's log lines go to stderr.
`);
  process.exit(file ? 0 : 2);
}
/**
 * The function's environment: this shell's when it holds one (its name, queues and endpoints — not the
 * operator's exports, which lack the function's role and configuration), else the running sandbox's.
 */
const FUNCTION_VARIABLES = [
  "AWS_LAMBDA_FUNCTION_NAME",
  "RETRY_QUEUE_URL",
  "DEAD_LETTER_QUEUE_URL",
  "AWS_ENDPOINT_URL_GUARDDUTY",
];
let functionEnv: Record<string, string | undefined> = process.env;
if (!FUNCTION_VARIABLES.every((name) => process.env[name])) {
  const discovery = discoverLocalStack();
  if (!discovery.description) {
    process.stderr.write(
      `The onboard function's environment is not set (${FUNCTION_VARIABLES.filter((name) => !process.env[name]).join(", ")}) ` +
        `and ${discovery.reason}: start \`npm run sandbox\` in another shell, then run this again.\n`,
    );
    process.exit(2);
  }
  functionEnv = { ...process.env, ...discovery.description.functionEnv };
}

const stack = readStack();
const container = await Container.start({
  bundle: await bundleFunction(stack.handler, stack.esbuild),
  env: Object.fromEntries(
    Object.entries(functionEnv).filter((entry): entry is [string, string] => entry[1] !== undefined),
  ),
  timeoutMs: stack.functionTimeoutSeconds * 1000,
  functionName: "guardduty-onboarding-local-onboard",
  onLog: (line) => process.stderr.write(`${line}\n`),
});
const result = await container.invoke(JSON.parse(readFileSync(file, "utf8")));
await container.terminate();
process.stdout.write(`${JSON.stringify(result.ok ? result.result : { error: result.error }, null, 2)}\n`);
process.exit(result.ok ? 0 : 1);
