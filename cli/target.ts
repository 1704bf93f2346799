import { CloudFormationClient, DescribeStacksCommand } from "@aws-sdk/client-cloudformation";
import { GetCallerIdentityCommand } from "@aws-sdk/client-sts";
import { type Clients, clientConfig, createClients } from "#shared/clients";
import { ACCOUNT_ID_PATTERN, REGION_PATTERN } from "#shared/ids";
import {
  ALL_REGIONS,
  guardDutyRegions,
  partitionOf,
  type RegionsSetting,
  resolveManagedRegions,
} from "#shared/managed-regions";
import { DEFAULT_PROFILE, type Profile, profileOf } from "#shared/protection";
import { discoverLocalStack } from "../local/discovery.ts";
import { CliError, explain, stackName, UsageError } from "./errors.ts";

/**
 * Which pipeline a command acts on: a deployed stage (queue URLs and regions from its CloudFormation
 * outputs), the local stack (the variables `npm run sandbox` prints, or — when they are not set — the
 * running sandbox's own description of itself, `local/discovery.ts`), or queue URLs given as flags —
 * which also override the other two.
 */

export type Env = Readonly<Record<string, string | undefined>>;

export interface Target {
  /** For messages: "stage prod (us-east-1)", "the local stack"… */
  readonly label: string;
  /** The region of the stack and its queues. */
  readonly region: string;
  /** GuardDuty regions the stage onboards into, or `all` (discovered); none known with explicit queue URLs. */
  readonly regions: RegionsSetting;
  readonly onboardingQueueUrl?: string;
  readonly deadLetterQueueUrl?: string;
  readonly stage?: string;
  readonly local: boolean;
  /** The stage's protection profile (its ProtectionPlans output, the local stack's PROTECTION_PLANS). */
  readonly protection: Profile;
  /** Known up front for the local stack; a deployed stage's is the caller's account (STS). */
  readonly administratorAccountId?: string;
}

export interface TargetFlags {
  readonly stage?: string;
  readonly region?: string;
  readonly local?: boolean;
  readonly "onboarding-queue-url"?: string;
  readonly "dead-letter-queue-url"?: string;
}

/** Every AWS client a command may use, built once per run. */
export interface CliClients extends Pick<Clients, "guardduty" | "organizations" | "account" | "sqs" | "sts"> {
  readonly cloudformation: CloudFormationClient;
}

export type ClientFactory = (region: string, env: Env) => CliClients;

/** The variables `npm run sandbox` prints that `--local` needs. */
const LOCAL_VARIABLES = [
  "AWS_ENDPOINT_URL_SQS",
  "ONBOARDING_QUEUE_URL",
  "DEAD_LETTER_QUEUE_URL",
  "GUARDDUTY_REGIONS",
];

/** The region a deployed stack lives in unless told otherwise (README, "Deploy"). */
const DEFAULT_REGION = "us-east-1";

export async function resolveTarget(
  flags: TargetFlags,
  env: Env,
  clientsFor: ClientFactory,
): Promise<{ target: Target; clients: CliClients }> {
  if (flags.region !== undefined && !REGION_PATTERN.test(flags.region)) {
    throw new UsageError(`--region "${flags.region}" is not a region name`);
  }
  if (flags.local && flags.stage) throw new UsageError("--local and --stage name two targets: pick one");
  const local = !flags.stage && (flags.local || LOCAL_VARIABLES.every((name) => env[name]));
  // The local stack's endpoints and credentials reach the clients too when it was discovered.
  const targetEnv = local ? localEnvironment(env) : env;
  const region = flags.region ?? targetEnv.AWS_REGION ?? targetEnv.AWS_DEFAULT_REGION ?? DEFAULT_REGION;
  if (!REGION_PATTERN.test(region)) throw new UsageError(`--region "${region}" is not a region name`);
  const clients = clientsFor(region, targetEnv);
  const explicit = {
    onboardingQueueUrl: url(flags["onboarding-queue-url"], "--onboarding-queue-url"),
    deadLetterQueueUrl: url(flags["dead-letter-queue-url"], "--dead-letter-queue-url"),
  };
  const defined = <T extends object>(value: T) =>
    Object.fromEntries(Object.entries(value).filter(([, item]) => item !== undefined)) as Partial<T>;

  let base: Target;
  if (flags.stage) base = await stageTarget(flags.stage, region, clients.cloudformation);
  else if (local) base = localTarget(targetEnv);
  else if (explicit.onboardingQueueUrl || explicit.deadLetterQueueUrl) {
    base = {
      label: `the queues given (${region})`,
      region,
      regions: [],
      local: false,
      protection: DEFAULT_PROFILE,
    };
  } else {
    throw new UsageError(
      "no target: pass --stage STAGE for a deployed stack, or --local for the local stack (`npm run sandbox`), " +
        "or the queue URLs (--onboarding-queue-url, --dead-letter-queue-url)",
    );
  }
  return { target: { ...base, ...defined(explicit) }, clients };
}

/** The administrator account: never enqueued by backfill. A deployed stage runs in the caller's account. */
export async function administratorAccount(target: Target, clients: CliClients): Promise<string> {
  if (target.administratorAccountId) return target.administratorAccountId;
  if (target.local) {
    throw new CliError(
      "ADMINISTRATOR_ACCOUNT_ID is not set: run `npm run sandbox` and paste its exports into this shell",
    );
  }
  try {
    const { Account } = await clients.sts.send(new GetCallerIdentityCommand({}));
    if (!Account) throw new CliError("STS GetCallerIdentity returned no account");
    return Account;
  } catch (error) {
    throw explain(error, { region: target.region });
  }
}

async function stageTarget(
  stage: string,
  region: string,
  cloudformation: CloudFormationClient,
): Promise<Target> {
  if (!/^[a-zA-Z0-9-]+$/.test(stage)) throw new UsageError(`--stage "${stage}" is not a stage name`);
  let outputs: Map<string, string>;
  try {
    const { Stacks = [] } = await cloudformation.send(
      new DescribeStacksCommand({ StackName: stackName(stage) }),
    );
    outputs = new Map(
      (Stacks[0]?.Outputs ?? []).map((output) => [output.OutputKey ?? "", output.OutputValue ?? ""]),
    );
  } catch (error) {
    throw explain(error, { stage, region });
  }
  const output = (key: string) => {
    const value = outputs.get(key);
    if (!value) {
      throw new CliError(
        `stack ${stackName(stage)} in ${region} has no output ${key}: it is not (fully) deployed; ` +
          "run `npx serverless deploy --stage " +
          `${stage}\``,
      );
    }
    return value;
  };
  return {
    label: `stage ${stage} (${region})`,
    region,
    stage,
    local: false,
    onboardingQueueUrl: output("OnboardingQueueUrl"),
    deadLetterQueueUrl: output("DeadLetterQueueUrl"),
    regions: regionsSetting(output("Regions"), `the stack's Regions output`),
    // Absent when the stage keeps the default profile (serverless.yml, HasProtectionPlans).
    protection: profileOf(outputs.get("ProtectionPlans")),
  };
}

/**
 * The local stack's environment: the variables `npm run sandbox` prints when they are set here, else
 * those of the running sandbox, over this environment (its endpoints and credentials win: they are the
 * ones its sandbox issued).
 */
function localEnvironment(env: Env): Env {
  const missing = LOCAL_VARIABLES.filter((name) => !env[name]);
  if (missing.length === 0) return env;
  const discovery = discoverLocalStack(env);
  if (discovery.description) {
    const discovered = discovery.description.env;
    const absent = LOCAL_VARIABLES.filter((name) => !discovered[name]);
    if (absent.length > 0) throw new CliError(`${discovery.path} does not give ${absent.join(", ")}`);
    return { ...env, ...discovered };
  }
  throw new CliError(
    `no local stack: ${discovery.reason}, and its variables are not set here (${missing.join(", ")}). ` +
      "Start it: run `npm run sandbox` in another shell and paste its exports into this one, " +
      "or just keep it running: --local finds it by itself",
  );
}

function localTarget(env: Env): Target {
  const administratorAccountId = env.ADMINISTRATOR_ACCOUNT_ID || undefined;
  if (administratorAccountId && !ACCOUNT_ID_PATTERN.test(administratorAccountId)) {
    throw new CliError(`ADMINISTRATOR_ACCOUNT_ID "${administratorAccountId}" is not 12 digits`);
  }
  return {
    label: "the local stack",
    region: env.AWS_REGION ?? DEFAULT_REGION,
    local: true,
    onboardingQueueUrl: env.ONBOARDING_QUEUE_URL,
    deadLetterQueueUrl: env.DEAD_LETTER_QUEUE_URL,
    regions: regionsSetting(env.GUARDDUTY_REGIONS ?? "", "GUARDDUTY_REGIONS"),
    protection: profileOf(env.PROTECTION_PLANS),
    administratorAccountId,
  };
}

/**
 * The GuardDuty regions a command covers: the target's, or those `--regions` names among them (the
 * pipeline skips a region its stage does not manage, so naming one would only be a silent no-op). A
 * stage with `regions: all` has its regions discovered as its functions discover them
 * (`#shared/managed-regions`: ListRegions, then ListDetectors in each enabled region); `--regions` then
 * needs no discovery, only names among the partition's GuardDuty regions. A region whose answer failed
 * stays in, with a warning.
 */
export async function selectRegions(
  target: Target,
  flag: string | undefined,
  clients: Pick<CliClients, "account" | "guardduty">,
  warn: (line: string) => void,
): Promise<string[]> {
  const { regions: setting } = target;
  if (setting === ALL_REGIONS) {
    const partition = partitionOf(target.region);
    if (flag !== undefined)
      return managedAmong(regionList(flag, "--regions"), guardDutyRegions(partition), target);
    const report = await resolveManagedRegions(setting, clients, partition).catch((error: unknown) => {
      throw explain(error, { region: target.region, local: target.local });
    });
    for (const [region, detail] of Object.entries(report.failed))
      warn(
        `warning: ${region}: GuardDuty could not be asked for the administrator's detector (${detail}); included`,
      );
    return [...report.regions];
  }
  if (flag === undefined) {
    if (setting.length === 0) throw new UsageError("--regions is required with explicit queue URLs");
    return [...setting];
  }
  const regions = regionList(flag, "--regions");
  return setting.length === 0 ? regions : managedAmong(regions, setting, target);
}

function managedAmong(regions: string[], managed: readonly string[], target: Target): string[] {
  const unmanaged = regions.filter((region) => !managed.includes(region));
  if (unmanaged.length > 0) {
    throw new UsageError(
      `${unmanaged.join(", ")} not managed by ${target.label} (its regions: ${managed.join(", ")}): ` +
        "the pipeline would skip it",
    );
  }
  return regions;
}

/** `all`, or a list of region names. */
function regionsSetting(text: string, source: string): RegionsSetting {
  return text.trim().toLowerCase() === ALL_REGIONS ? ALL_REGIONS : regionList(text, source);
}

/** A comma-separated list of region names, validated. */
export function regionList(text: string, source: string): string[] {
  const regions = [
    ...new Set(
      text
        .split(",")
        .map((region) => region.trim())
        .filter(Boolean),
    ),
  ];
  if (regions.length === 0) throw new UsageError(`${source} names no region`);
  for (const region of regions) {
    if (!REGION_PATTERN.test(region)) throw new UsageError(`${source}: "${region}" is not a region name`);
  }
  return regions;
}

function url(value: string | undefined, flag: string): string | undefined {
  if (value !== undefined && !URL.canParse(value)) throw new UsageError(`${flag} "${value}" is not a URL`);
  return value;
}

/**
 * The SDK clients, with the pipeline's retry and timeout settings (`#shared/clients`). Endpoints and
 * credentials come from `env` — the process environment, or the one a test hands in — through the
 * SDK's own variables (`AWS_ENDPOINT_URL_<SERVICE>`, `AWS_ACCESS_KEY_ID`…); without keys, the SDK's
 * default chain (AWS_PROFILE, SSO, instance roles) finds the credentials.
 */
export function createCliClients(region: string, env: Env): CliClients {
  const settings = { env, region };
  return {
    ...createClients(settings),
    cloudformation: new CloudFormationClient({
      ...clientConfig(settings, "CLOUDFORMATION", "standard"),
      region,
    }),
  };
}
