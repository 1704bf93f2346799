/**
 * The whole pipeline on this machine: a real SQS server with the stack's queues, the GuardDuty +
 * Organizations sandbox, and Lambda's SQS event source invoking the deployable bundle of the handler.
 * Every AWS client — the function's and the tooling's — is unmodified and reaches these servers over
 * HTTP through the SDK's standard `AWS_ENDPOINT_URL_<SERVICE>` variables.
 */
import { appendFileSync } from "node:fs";
import { GetQueueAttributesCommand } from "@aws-sdk/client-sqs";
import type { AuthorizationRecord } from "../sandbox/iam.ts";
import { type Sandbox, type SandboxOptions, startSandbox } from "../sandbox/server.ts";
import { ALL_REGIONS, type RegionsSetting } from "../shared/managed-regions.ts";
import { type Bundle, bundleFunction } from "./bundle.ts";
import { type Deployment, type ResourceValue, TemplateEvaluator } from "./cloudformation.ts";
import { startLocalDynamo } from "./dynamodb.ts";
import { type EventSourceFaults, LocalEventSource } from "./event-source.ts";
import {
  type CredentialsEnv,
  type LocalIdentities,
  localIdentities,
  type MemberRoleScenario,
} from "./identities.ts";
import { LOCAL_REGION, type LocalSqs, startLocalSqs } from "./sqs.ts";
import { type EventSourceDefinition, readStack, type StackDefinition } from "./stack.ts";

export interface LocalStackOptions {
  /** GuardDuty regions the function onboards into, or `all` (stage parameter `regions: all`: discovered). */
  readonly regions: RegionsSetting;
  readonly sandbox?: SandboxOptions;
  /** Stage parameters over `params.default` (e.g. `maxAttempts`, `membershipMode`). */
  readonly params?: Readonly<Record<string, string>>;
  /** Queue attributes over serverless.yml's (e.g. a short `VisibilityTimeout` for crash tests). */
  readonly queueAttributes?: Readonly<Record<string, string>>;
  readonly eventSourceFaults?: EventSourceFaults;
  /**
   * Variables over the function's environment (e.g. a short `SDK_REQUEST_TIMEOUT_MS` for chaos runs,
   * whose latency spikes must outlast it).
   */
  readonly functionEnvironment?: Readonly<Record<string, string>>;
  /** Event-source settings over serverless.yml's (e.g. a shorter batching window in tests). */
  readonly eventSourceSettings?: Partial<Omit<EventSourceDefinition, "queue">>;
  /** Every line the function logs; default: discarded. */
  readonly onLog?: (line: string) => void;
  /** Problems of the event source itself (not of the function). */
  readonly onError?: (message: string) => void;
  /** Do not start the event sources (`npm run sandbox`: servers only). */
  readonly withoutFunction?: boolean;
  /** The roles member accounts hold (default `documented`: member-role/template.yml's, deployed). */
  readonly memberRoles?: MemberRoleScenario;
  /** The stack definition to run (default serverless.yml): a test may run a changed copy. */
  readonly stackFile?: string;
}

export interface QueueDepth {
  readonly visible: number;
  readonly inFlight: number;
  readonly delayed: number;
}

export interface LocalStack {
  /** What serverless.yml declares, with the current deployment's parameters. */
  readonly stack: StackDefinition;
  readonly sqs: LocalSqs;
  readonly sandbox: Sandbox;
  /**
   * Endpoints, the operator's credentials (the stack's OperatorPolicy) and the queue URLs: what the ops
   * tooling or any AWS client needs to reach the stack.
   */
  readonly env: Readonly<Record<string, string>>;
  /** The onboard function's environment: serverless.yml's `provider.environment`, its role's credentials. */
  readonly functionEnv: Readonly<Record<string, string>>;
  /** Who is who: each function's role credentials, the operator's, the member roles. */
  readonly identities: LocalIdentities;
  /** The environment of a function other than onboard (e.g. `reconcile`), with its role's credentials. */
  roleEnv(functionName: string): Readonly<Record<string, string>>;
  readonly eventSources: readonly LocalEventSource[];
  /**
   * Deploys the stack again with other parameters (and, say, the member roles a StackSet just deployed),
   * as `serverless deploy` would: the functions restart with the new environment and role policies;
   * queues and the sandbox's state stay.
   */
  redeploy(changes: {
    readonly params?: Readonly<Record<string, string>>;
    readonly memberRoles?: MemberRoleScenario;
  }): Promise<void>;
  depths(): Promise<Record<string, QueueDepth>>;
  /** Resolves once the source queues are empty and no batch is in flight (or rejects after `timeoutMs`). */
  drained(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/** Retries wait seconds, not minutes, on a laptop: the local stage's `retryBaseDelaySeconds`. */
const LOCAL_PARAMS = { retryBaseDelaySeconds: "1", logLevel: "INFO" };

function stageParams(options: LocalStackOptions, changes: Readonly<Record<string, string>>) {
  return { regions: regionsParam(options.regions), ...LOCAL_PARAMS, ...options.params, ...changes };
}

/** The stage parameter `regions`: `all`, or the comma-separated list. */
function regionsParam(regions: RegionsSetting): string {
  return regions === ALL_REGIONS ? ALL_REGIONS : regions.join(",");
}

/** `--mode`: the stage's `membershipMode` parameter, checked as the function's configuration checks it. */
export function membershipModeParams(mode: string | undefined): Record<string, string> {
  if (mode === undefined) return {};
  if (mode !== "invitation" && mode !== "organization") {
    throw new Error(`--mode: "${mode}" must be "invitation" or "organization"`);
  }
  return { membershipMode: mode };
}

/** The GuardDuty administrator account of the local stack (the stack's own account). */
export const LOCAL_ADMINISTRATOR_ACCOUNT_ID = "210987654321";

/**
 * When `SANDBOX_CALL_LOG` names a file, every IAM decision of the sandbox is appended to it as a JSON
 * line: test/config/iam.test.ts replays the calls the integration tier made against the packaged template.
 */
function callLog(): ((record: AuthorizationRecord) => void) | undefined {
  const file = process.env.SANDBOX_CALL_LOG;
  if (!file) return undefined;
  return (record) => appendFileSync(file, `${JSON.stringify(record)}\n`);
}

/** One deployment of the stack: its definition, who is who, and each function's environment. */
interface Deployed {
  readonly stack: StackDefinition;
  readonly identities: LocalIdentities;
  readonly environments: Readonly<Record<string, Record<string, string>>>;
}

export async function startLocalStack(options: LocalStackOptions): Promise<LocalStack> {
  const first = readStack(options.stackFile, { params: stageParams(options, {}) });
  const sqs = await startLocalSqs(first.queues, options.queueAttributes);
  const administratorAccountId = options.sandbox?.administratorAccountId ?? LOCAL_ADMINISTRATOR_ACCOUNT_ID;
  const managementAccountId = options.sandbox?.managementAccountId ?? "111111111111";
  const dynamo = await startLocalDynamo(first.tables, administratorAccountId);
  const resources: Record<string, ResourceValue> = {};
  for (const [name, url] of Object.entries(sqs.urls)) {
    resources[name] = { ref: url, attributes: { Arn: sqs.arns[name] as string } };
  }
  for (const [name, table] of Object.entries(dynamo.tables)) {
    resources[name] = { ref: table, attributes: { Arn: dynamo.arns[name] as string } };
  }
  const deployment: Deployment = {
    accountId: administratorAccountId,
    region: LOCAL_REGION,
    stackName: `${first.service}-${first.stage}`,
    resources,
  };
  const identitiesOf = (stack: StackDefinition, memberRoles: MemberRoleScenario) =>
    localIdentities(stack, deployment, { managementAccountId, memberRoles });
  const firstIdentities = identitiesOf(first, options.memberRoles ?? "documented");
  // Organization mode (stage parameter membershipMode): the stack's account is the organization's GuardDuty
  // delegated administrator in every region it manages, unless the scenario says otherwise.
  const organizationMode = options.params?.membershipMode === "organization";
  const sandbox = await startSandbox({
    ...(organizationMode && {
      mode: "organization",
      delegatedAdministratorRegions: options.regions === ALL_REGIONS ? "*" : options.regions,
    }),
    ...options.sandbox,
    administratorAccountId,
    principals: { ...firstIdentities.principals, ...options.sandbox?.principals },
    memberRoles: options.sandbox?.memberRoles ?? firstIdentities.memberRoles,
    onAuthorization: options.sandbox?.onAuthorization ?? callLog(),
  });
  const env: Record<string, string> = {
    AWS_REGION: LOCAL_REGION,
    ...firstIdentities.operator,
    AWS_ENDPOINT_URL_SQS: sqs.endpoint,
    AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
    ...sandbox.env(),
    GUARDDUTY_REGIONS: regionsParam(options.regions),
    ONBOARDING_QUEUE_URL: sqs.urls.OnboardingQueue as string,
    RETRY_QUEUE_URL: sqs.urls.RetryQueue as string,
    ACCEPT_QUEUE_URL: sqs.urls.AcceptQueue as string,
    DEAD_LETTER_QUEUE_URL: sqs.urls.DeadLetterQueue as string,
    ADMINISTRATOR_ACCOUNT_ID: administratorAccountId,
    // The stage's profile, for `gd-onboard status` (as a deployed stage's ProtectionPlans output).
    ...(options.params?.protectionPlans ? { PROTECTION_PLANS: options.params.protectionPlans } : {}),
  };
  /** A function's environment as Lambda would give it: serverless.yml's variables, its role's credentials. */
  const environmentOf = (stack: StackDefinition, identities: LocalIdentities, fn: string) => {
    const variables = new TemplateEvaluator(stack.template, deployment).evaluate(stack.environment) as Record<
      string,
      unknown
    >;
    return {
      ...Object.fromEntries(Object.entries(variables).map(([name, value]) => [name, String(value ?? "")])),
      ...env,
      ...(identities.functions[fn] as CredentialsEnv),
      AWS_LAMBDA_FUNCTION_NAME: `${stack.service}-${stack.stage}-${fn}`,
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
      ...options.functionEnvironment,
    };
  };

  const deployed = (stack: StackDefinition, identities: LocalIdentities): Deployed => ({
    stack,
    identities,
    environments: Object.fromEntries(
      Object.keys(stack.functions).map((fn) => [fn, environmentOf(stack, identities, fn)]),
    ),
  });
  let current = deployed(first, firstIdentities);
  // Every function Lambda's SQS event source invokes, bundled as `serverless package` bundles it.
  const bundles = new Map<string, Bundle>();
  if (!options.withoutFunction) {
    for (const fn of Object.values(first.functions)) {
      if (fn.eventSources.length > 0) bundles.set(fn.name, await bundleFunction(fn.handler, first.esbuild));
    }
  }
  const startSources = ({ stack, environments }: Deployed): LocalEventSource[] => {
    const sources = Object.values(stack.functions).flatMap((fn) => {
      const bundle = bundles.get(fn.name);
      const env = environments[fn.name];
      if (!bundle || !env) return [];
      return fn.eventSources.map(
        (settings) =>
          new LocalEventSource({
            sqs: sqs.client,
            queueUrl: sqs.urls[settings.queue] as string,
            queueArn: sqs.arns[settings.queue] as string,
            settings: { ...settings, ...options.eventSourceSettings },
            faults: options.eventSourceFaults,
            onError: options.onError,
            container: {
              bundle,
              env,
              timeoutMs: fn.timeoutSeconds * 1000,
              functionName: env.AWS_LAMBDA_FUNCTION_NAME as string,
              onLog: options.onLog ?? (() => undefined),
            },
          }),
      );
    });
    for (const source of sources) source.start();
    return sources;
  };
  let eventSources = startSources(current);

  const sources = Object.values(first.functions).flatMap((fn) =>
    fn.eventSources.map((settings) => settings.queue),
  );
  const depths = async () => {
    const result: Record<string, QueueDepth> = {};
    for (const [name, QueueUrl] of Object.entries(sqs.urls)) {
      const { Attributes = {} } = await sqs.client.send(
        new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ["All"] }),
      );
      const inFlight = Number(Attributes.ApproximateNumberOfMessagesNotVisible ?? 0);
      result[name] = {
        // local-aws-sqs 2.0.2 counts in-flight messages in ApproximateNumberOfMessages too.
        visible: Math.max(0, Number(Attributes.ApproximateNumberOfMessages ?? 0) - inFlight),
        inFlight,
        delayed: Number(Attributes.ApproximateNumberOfMessagesDelayed ?? 0),
      };
    }
    return result;
  };

  return {
    get stack() {
      return current.stack;
    },
    sqs,
    sandbox,
    env,
    get functionEnv() {
      return current.environments.onboard as Record<string, string>;
    },
    get identities() {
      return current.identities;
    },
    roleEnv(functionName) {
      const environment = current.environments[functionName];
      if (!environment) throw new Error(`serverless.yml has no function ${functionName}`);
      return environment;
    },
    get eventSources() {
      return eventSources;
    },
    async redeploy(changes) {
      await Promise.all(eventSources.map((source) => source.stop()));
      const stack = readStack(options.stackFile, { params: stageParams(options, changes.params ?? {}) });
      const identities = identitiesOf(stack, changes.memberRoles ?? options.memberRoles ?? "documented");
      for (const [accessKeyId, principal] of Object.entries(identities.principals)) {
        sandbox.registerPrincipal(accessKeyId, principal);
      }
      // The member roles a StackSet deployed: every organization account gets them.
      for (const account of sandbox.accounts()) {
        for (const role of identities.memberRoles) {
          const input = role(account);
          if (input) sandbox.addRole(account.id, input);
        }
      }
      current = deployed(stack, identities);
      eventSources = startSources(current);
    },
    depths,
    async drained(timeoutMs = 300_000) {
      const deadline = Date.now() + timeoutMs;
      let quietChecks = 0;
      // Two quiet checks in a row: a batch may be between its receive and its invocation.
      while (quietChecks < 2) {
        if (Date.now() > deadline) throw new Error(`the queues did not drain within ${timeoutMs / 1000} s`);
        await new Promise((resolve) => setTimeout(resolve, 250));
        const current = await depths();
        const pending = sources.some((name) => {
          const depth = current[name];
          return !depth || depth.visible + depth.inFlight + depth.delayed > 0;
        });
        const busy = eventSources.some((source) => source.busy > 0);
        quietChecks = pending || busy ? 0 : quietChecks + 1;
      }
    },
    async stop() {
      await Promise.all(eventSources.map((source) => source.stop()));
      await sandbox.close();
      await sqs.close();
      await dynamo.close();
    },
  };
}
