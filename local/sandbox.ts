/**
 * `npm run sandbox`: the SQS server (with the stack's queues) and the GuardDuty + Organizations
 * sandbox, kept running, with the environment to export so that the ops tooling, `npm run invoke`
 * (the function, once) and any AWS client (the AWS CLI, boto3) can be pointed at them.
 */
import { parseArgs } from "node:util";
import { startLocalStack } from "./local-stack.ts";

const { values } = parseArgs({
  options: {
    regions: { type: "string", default: "us-east-1,eu-west-1,ap-southeast-2" },
    seed: { type: "string", default: "42" },
    accounts: { type: "string", default: "25" },
    "with-function": { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  },
});

if (values.help) {
  process.stdout.write(`Usage: npm run sandbox -- [--regions a,b] [--seed N] [--accounts N] [--with-function]

Starts the local SQS server with the stack's queues and the GuardDuty + Organizations sandbox, prints
the environment to export (for the ops CLI, \`npm run invoke\` and any AWS client), and runs until
interrupted (Ctrl-C). --with-function also runs the onboard
function on the queues, as Lambda's event source would.
`);
  process.exit(0);
}

const regions = values.regions.split(",").filter(Boolean);
const local = await startLocalStack({
  regions,
  sandbox: { seed: Number(values.seed), accountCount: Number(values.accounts) },
  withoutFunction: !values["with-function"],
  onLog: (line) => process.stderr.write(`${line}\n`),
});
const exports = Object.entries(local.functionEnv)
  .map(([name, value]) => `export ${name}=${JSON.stringify(value)}`)
  .join("\n");
process.stdout.write(`# SQS ${local.sqs.endpoint} · GuardDuty + Organizations ${local.sandbox.url}
# Administrator (GuardDuty) account ${local.sandbox.administratorAccountId}; ${local.sandbox.accounts().length} organization accounts.
# Paste into another shell, then e.g.:
#   aws guardduty list-detectors --region ${regions[0]}
#   aws organizations list-accounts
#   aws sqs send-message --queue-url "$ONBOARDING_QUEUE_URL" --message-body '{"version":1,"accountId":"${local.sandbox.accounts().at(-1)?.id}"}'
#   npm run invoke -- events/sqs/onboard-batch.json        (the onboard function, once)
${exports}
`);

const stop = async () => {
  await local.stop();
  process.exit(0);
};
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
