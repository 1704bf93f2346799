/**
 * `npm run invoke -- FILE`: one invocation of the onboard function's deployable bundle, in a local
 * container, with an SQS event from FILE (e.g. events/sqs/onboard-batch.json), against whatever the
 * environment points at — normally the servers of `npm run sandbox`, whose exports it expects.
 * (`serverless invoke local` cannot run offline: the function's environment refers to the stack's
 * queues through CloudFormation, which it would have to ask.)
 */
import { readFileSync } from "node:fs";
import { bundleFunction } from "./bundle.ts";
import { Container } from "./container.ts";
import { readStack } from "./stack.ts";

const file = process.argv[2];
if (!file || file === "--help" || file === "-h") {
  process.stdout.write(`Usage: npm run invoke -- FILE

Invokes the onboard function once with the SQS event in FILE (see events/sqs/), using the environment
that \`npm run sandbox\` prints (paste its exports first). Prints the partial batch response; the
function's log lines go to stderr.
`);
  process.exit(file ? 0 : 2);
}
for (const name of ["RETRY_QUEUE_URL", "DEAD_LETTER_QUEUE_URL", "AWS_ENDPOINT_URL_GUARDDUTY"]) {
  if (!process.env[name]) {
    process.stderr.write(
      `${name} is not set: run \`npm run sandbox\` in another shell and paste its exports here.\n`,
    );
    process.exit(2);
  }
}

const stack = readStack();
const container = await Container.start({
  bundle: await bundleFunction(stack.handler, stack.esbuild),
  env: Object.fromEntries(
    Object.entries(process.env).filter((entry): entry is [string, string] => entry[1] !== undefined),
  ),
  timeoutMs: stack.functionTimeoutSeconds * 1000,
  functionName: "guardduty-onboarding-local-onboard",
  onLog: (line) => process.stderr.write(`${line}\n`),
});
const result = await container.invoke(JSON.parse(readFileSync(file, "utf8")));
await container.terminate();
process.stdout.write(`${JSON.stringify(result.ok ? result.result : { error: result.error }, null, 2)}\n`);
process.exit(result.ok ? 0 : 1);
