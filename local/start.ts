/**
 * `npm start`: the whole pipeline on this machine, no AWS account, no Docker, no network. Publishes
 * events into a seeded organization, runs until the queues are drained, prints a summary, exits 0.
 */
import { createWriteStream } from "node:fs";
import { parseArgs } from "node:util";
import { parseProfile } from "#shared/protection";
import type { FaultOptions } from "../sandbox/faults.ts";
import { applyDrift, type DriftCoverage, driftCoverage, measureCoverage } from "./drift.ts";
import { memberRoleParams, memberRoleScenario } from "./identities.ts";
import {
  accountCreatedEvent,
  accountsNamed,
  newAccountIds,
  publish,
  readEvents,
  readMessages,
} from "./inputs.ts";
import { type LocalStack, membershipModeParams, startLocalStack } from "./local-stack.ts";
import { runReconcile } from "./reconcile.ts";
import { OutcomeTally, renderSummary, summarize } from "./summary.ts";

const HELP = `Usage: npm start -- [options]

Runs the onboarding pipeline on an embedded local stack (SQS server, GuardDuty + Organizations
sandbox, Lambda's SQS event source) and prints what happened.

  --events PATH     EventBridge events (a .json file, or a folder of them) sent as a rule delivers them
                    (default: events/)
  --messages PATH   raw SQS message bodies sent as they are: one per file of a folder, or NDJSON lines
  --accounts N      also synthesize N new-account events (default: 30 with the default scenario, else 0)
  --regions a,b,c   GuardDuty regions to onboard into
                    (default: us-east-1,eu-west-1,ap-southeast-2,ca-central-1)
  --no-detector a,b regions where the administrator has not enabled GuardDuty (default: ca-central-1)
  --faults JSON     sandbox faults, e.g. '{"latencyMs":20,"serverErrorRate":0.1,
                    "guardDutyThrottle":{"ratePerSecond":5,"burst":5},"organizationsThrottle":{...},
                    "internalErrorRate":0.05}' plus event-source faults "crashRate", "duplicateRate"
  --mode M          membershipMode: "invitation" (default: CreateMembers + InviteMembers, the member side
                    accepts) or "organization" (the stack's account is the seeded delegated administrator:
                    CreateMembers alone enables each account; no invitation, no AssumeRole)
  --member-roles R  the roles member accounts hold: "documented" (default: member-role/template.yml's,
                    trusting the onboard function) or "organization-access" (only
                    OrganizationAccountAccessRole, which trusts the management account alone: the
                    delegated administrator's case before the StackSet is deployed)
  --invitation-delay-ms N   an invitation reaches the member N ms after it is sent (default: 0)
  --email-verification-ms N invitations e-mailed to the member (disableEmailNotification=false) show
                    EmailVerificationInProgress for N ms (default: 0)
  --plans JSON      the protection profile (stage parameter protectionPlans), e.g.
                    '{"default":{"S3_DATA_EVENTS":"ENABLED","EKS_AUDIT_LOGS":"DISABLED"}}'
                    (default: the documented default profile, README "Protection")
  --drift           then put members out of place (a member resigns, the administrator stops monitoring
                    one, disassociates one, deletes one, invites one again, re-creates one with an
                    address its verification fails on; a member turns a plan the other way), close one
                    account, remove one, let one join; run the reconcile function once and print the
                    coverage it restored (README, "Coverage"; needs --accounts >= 10)
  --seed N          seed of the organization and every injected fault (default: 42)
  --json            print only one JSON summary on stdout; logs go to stderr or --logs
  --logs FILE       write the function's structured logs to FILE
  -h, --help        this text
`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      events: { type: "string" },
      messages: { type: "string" },
      accounts: { type: "string" },
      regions: { type: "string", default: "us-east-1,eu-west-1,ap-southeast-2,ca-central-1" },
      "no-detector": { type: "string", default: "ca-central-1" },
      faults: { type: "string" },
      seed: { type: "string", default: "42" },
      "member-roles": { type: "string", default: "documented" },
      mode: { type: "string" },
      "invitation-delay-ms": { type: "string", default: "0" },
      "email-verification-ms": { type: "string", default: "0" },
      plans: { type: "string" },
      drift: { type: "boolean", default: false },
      json: { type: "boolean", default: false },
      logs: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return;
  }
  const seed = integer("--seed", values.seed);
  const regions = values.regions
    .split(",")
    .map((region) => region.trim())
    .filter(Boolean);
  const custom = values.events !== undefined || values.messages !== undefined;
  const burst = values.accounts === undefined ? (custom ? 0 : 30) : integer("--accounts", values.accounts);
  const { crashRate, duplicateRate, ...sandboxFaults } = parseFaults(values.faults);
  const memberRoles = memberRoleScenario(values["member-roles"]);
  // Checked here as the function checks it at cold start, so a bad profile stops the run at once.
  if (values.plans !== undefined) parseProfile(values.plans, "--plans");
  const plansParam: Record<string, string> =
    values.plans === undefined ? {} : { protectionPlans: values.plans };

  // Prepare what to publish, and an organization that holds every account it names.
  const burstIds = newAccountIds(burst, seed);
  const bodies = [
    ...readEvents(values.events ?? "events"),
    ...burstIds.map((id) => accountCreatedEvent(id)),
    ...(values.messages ? readMessages(values.messages) : []),
    // The default scenario's malformed message: dead-lettered verbatim, its batch siblings unharmed.
    ...(custom ? [] : ['{"version":1,"accountId":"not-an-account-id"']),
  ];
  const named = accountsNamed(bodies);
  // --drift must end fully protected: no repair takes over another administrator's member.
  const otherAdministrator = custom || values.drift ? [] : burstIds.slice(-1);

  const logFile = values.logs ? createWriteStream(values.logs) : undefined;
  const tally = new OutcomeTally();
  const progress = (text: string) => (values.json ? process.stderr : process.stdout).write(`${text}\n`);
  /** Every function's log line: tallied, and written to --logs (or stderr with --json). */
  const onLog = (line: string) => {
    tally.add(line);
    if (logFile) logFile.write(`${line}\n`);
    else if (values.json) process.stderr.write(`${line}\n`);
  };
  const local = await startLocalStack({
    regions,
    memberRoles,
    params: { ...memberRoleParams(memberRoles), ...membershipModeParams(values.mode), ...plansParam },
    sandbox: {
      invitationDelayMs: integer("--invitation-delay-ms", values["invitation-delay-ms"]),
      emailVerificationMs: integer("--email-verification-ms", values["email-verification-ms"]),
      seed,
      accountCount: 20,
      accounts: named.map((id) => ({ id })),
      regionsWithoutDetector: values["no-detector"].split(",").filter(Boolean),
      membersOfOtherAdministrator: otherAdministrator.map((accountId) => ({ accountId })),
      // Throttles a burst meets: Organizations 5 calls/s across its APIs; GuardDuty 1 call/s per API and
      // region, so two concurrent batches collide and the SDK's retries absorb the 429.
      faults: {
        organizationsThrottle: { ratePerSecond: 5, burst: 10 },
        guardDutyThrottle: { ratePerSecond: 1, burst: 1 },
        ...sandboxFaults,
      },
    },
    eventSourceFaults: { crashRate, duplicateRate },
    onLog,
    onError: (message) => process.stderr.write(`${message}\n`),
  });

  try {
    const started = Date.now();
    progress(
      `Local stack up: SQS ${local.sqs.endpoint}, GuardDuty + Organizations sandbox ${local.sandbox.url}. ` +
        `Publishing ${bodies.length} messages for ${named.length} accounts into ${regions.length} regions…`,
    );
    await publish(local.sqs.client, local.sqs.urls.OnboardingQueue as string, bodies);
    await local.drained();
    const drift = values.drift
      ? await runDrift(local, {
          regions,
          candidates: burstIds,
          seed,
          onLog,
          progress,
        })
      : undefined;
    // The account that joined is shown with the published ones.
    const accounts = [...new Set([...named, ...(drift?.changes ?? []).map(({ accountId }) => accountId)])];
    const summary = {
      ...(await summarize(
        local,
        { seed, regions, accounts, published: bodies.length, wallTimeMs: Date.now() - started },
        tally,
      )),
      ...(drift && { coverage: drift }),
    };
    if (values.json) process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
    else {
      process.stdout.write(`\n${renderSummary(summary)}\n`);
      if (!logFile) process.stdout.write("\nThe function's structured logs: npm start -- --logs FILE\n");
    }
  } finally {
    await local.stop();
    logFile?.end();
  }
}

/**
 * `--drift`: a baseline reconcile onboards the organization's accounts no event named (so every desired
 * pair is protected), then the drift, its lifecycle events drained, one reconcile, its repairs drained,
 * and the coverage measured.
 */
async function runDrift(
  local: LocalStack,
  options: {
    readonly regions: readonly string[];
    readonly candidates: readonly string[];
    readonly seed: number;
    readonly onLog: (line: string) => void;
    readonly progress: (text: string) => void;
  },
): Promise<DriftCoverage> {
  const { sandbox } = local;
  const { regions, progress } = options;
  progress("Drift: a baseline reconcile onboards the organization's other accounts…");
  await runReconcile(local, { runId: "local-drift-baseline", onLog: options.onLog });
  await local.drained();
  const region = regions.find((name) => sandbox.detectorId(sandbox.administratorAccountId, name));
  if (!region) throw new Error("--drift: the administrator has a detector in none of --regions");
  const inOrganization = new Set(sandbox.accounts().map((account) => account.id));
  const joinedAccountId = newAccountIds(options.candidates.length + 100, options.seed).find(
    (id) => !inOrganization.has(id),
  ) as string;
  progress(`Drift: members put out of place in ${region}, accounts closed, removed and joined…`);
  const changes = await applyDrift(local, {
    region,
    candidates: options.candidates.filter((id) => sandbox.status(id, region) === "Enabled"),
    joinedAccountId,
  });
  await local.drained();
  progress("Drift: the reconcile function repairs what it finds…");
  const reconcile = await runReconcile(local, { runId: "local-drift", onLog: options.onLog });
  await local.drained();
  const after = await measureCoverage(local, regions);
  return driftCoverage(local, { reconcile, after, changes, regions });
}

function integer(flag: string, value: string): number {
  const number = Number(value);
  if (!Number.isInteger(number) || number < 0) throw new Error(`${flag}: "${value}" is not a whole number`);
  return number;
}

function parseFaults(
  json: string | undefined,
): FaultOptions & { crashRate?: number; duplicateRate?: number } {
  if (!json) return {};
  try {
    return JSON.parse(json) as FaultOptions;
  } catch {
    throw new Error(`--faults: not JSON: ${json}`);
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`npm start: ${(error as Error)?.message ?? error}\n`);
    process.exit(1);
  },
);
