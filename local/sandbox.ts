/**
 * `npm run sandbox`: the SQS server (with the stack's queues) and the GuardDuty + Organizations + STS
 * sandbox, kept running. It prints the operator's environment to export, for any AWS client (the AWS
 * CLI, boto3) and the ops tooling, with commands that work as printed; and while it runs it describes
 * itself in a file (`./discovery.ts`), through which `gd-onboard --local` and `npm run invoke` find it
 * without pasted exports.
 */
import { parseArgs } from "node:util";
import { localStackFile, removeLocalStackFile, writeLocalStackFile } from "./discovery.ts";
import { memberRoleParams, memberRoleScenario } from "./identities.ts";
import { sampleAccounts } from "./inputs.ts";
import { membershipModeParams, startLocalStack } from "./local-stack.ts";

const { values } = parseArgs({
  options: {
    regions: { type: "string", default: "us-east-1,eu-west-1,ap-southeast-2" },
    seed: { type: "string", default: "42" },
    accounts: { type: "string", default: "25" },
    "with-function": { type: "boolean", default: false },
    "member-roles": { type: "string", default: "documented" },
    mode: { type: "string" },
    "invitation-delay-ms": { type: "string", default: "0" },
    "email-verification-ms": { type: "string", default: "0" },
    help: { type: "boolean", short: "h", default: false },
  },
});

const file = localStackFile();

if (values.help) {
  process.stdout.write(`Usage: npm run sandbox -- [--regions a,b] [--seed N] [--accounts N] [--with-function]
                          [--member-roles documented|organization-access] [--mode invitation|organization]
                          [--invitation-delay-ms N] [--email-verification-ms N]

Starts the local SQS server with the stack's queues and the GuardDuty + Organizations + STS sandbox,
prints the operator's environment to export (for the AWS CLI and any AWS client) with example commands,
and runs until interrupted (Ctrl-C). While it runs, ${file}
($GUARDDUTY_ONBOARDING_LOCAL_STACK_FILE) describes it: \`gd-onboard --local\` and \`npm run invoke\`
find it there without pasted exports. --with-function also runs the onboard function on the queues, as
Lambda's event source would. --mode, --member-roles, --invitation-delay-ms and --email-verification-ms
are those of \`npm start\` (see its --help).
`);
  process.exit(0);
}

const regions = values.regions.split(",").filter(Boolean);
const memberRoles = memberRoleScenario(values["member-roles"]);
const local = await startLocalStack({
  regions,
  memberRoles,
  params: { ...memberRoleParams(memberRoles), ...membershipModeParams(values.mode) },
  // The organization also holds the accounts the samples in events/ name, so they can be sent as they are.
  sandbox: {
    seed: Number(values.seed),
    accountCount: Number(values.accounts),
    accounts: sampleAccounts().map((id) => ({ id })),
    invitationDelayMs: Number(values["invitation-delay-ms"]),
    emailVerificationMs: Number(values["email-verification-ms"]),
  },
  withoutFunction: !values["with-function"],
  onLog: (line) => process.stderr.write(`${line}\n`),
});

// The operator's environment (the stack's OperatorPolicy), not the function's. botocore (the AWS CLI,
// boto3) reads its region from AWS_DEFAULT_REGION only; the JavaScript SDK reads AWS_REGION.
const env: Record<string, string> = {};
for (const [name, value] of Object.entries(local.env)) {
  env[name] = value;
  if (name === "AWS_REGION") env.AWS_DEFAULT_REGION = value;
}

let stopping = false;
const stop = async (code: number) => {
  if (stopping) return;
  stopping = true;
  removeLocalStackFile(file, process.pid);
  await local.stop();
  process.exit(code);
};
process.on("SIGINT", () => void stop(0));
process.on("SIGTERM", () => void stop(0));
process.on("SIGHUP", () => void stop(0));
// Whatever else ends the process (an uncaught error, process.exit): the file goes with it.
process.on("exit", () => removeLocalStackFile(file, process.pid));

writeLocalStackFile(file, {
  version: 1,
  pid: process.pid,
  startedAt: new Date().toISOString(),
  env,
  functionEnv: local.functionEnv,
});

const exports = Object.entries(env)
  .map(([name, value]) => `export ${name}=${JSON.stringify(value)}`)
  .join("\n");
const accounts = local.sandbox.accounts();
const sampleAccount = accounts.at(-1)?.id ?? local.sandbox.administratorAccountId;
process.stdout.write(`# SQS ${local.sqs.endpoint} · GuardDuty + Organizations + STS ${local.sandbox.url}
# Administrator (GuardDuty) account ${local.sandbox.administratorAccountId}; ${accounts.length} organization accounts; GuardDuty regions ${regions.join(", ")}; ${values.mode === "organization" ? "organization mode: the administrator is the delegated administrator there (CreateMembers alone enables)" : "invitation mode"}.
# gd-onboard --local and npm run invoke find this stack by themselves while it runs (${file}).
# For the AWS CLI and other clients, paste into another shell (the operator: the stack's OperatorPolicy):
${exports}
# Then, e.g.:
#   aws sts get-caller-identity
#   aws guardduty list-detectors --region ${regions[0]}
#   aws organizations list-accounts
# (the AWS CLI v1 ignores AWS_ENDPOINT_URL_SQS: give its SQS commands --endpoint-url)
#   aws sqs send-message --endpoint-url "$AWS_ENDPOINT_URL_SQS" --queue-url "$ONBOARDING_QUEUE_URL" --message-body '{"version":1,"accountId":"${sampleAccount}"}'
#   npx gd-onboard dlq list --local
# (the onboard function once, with its own role and configuration, which it reads from ${file}):
#   npm run invoke -- events/sqs/onboard-batch.json
`);
