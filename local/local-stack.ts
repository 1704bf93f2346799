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
import { type Bundle, bundleFunction } from "./bundle.ts";
import type { ResourceValue } from "./cloudformation.ts";
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
  /** GuardDuty regions the function onboards into. */
  readonly regions: readonly string[];
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
}

export interface QueueDepth {
  readonly visible: number;
  readonly inFlight: number;
  readonly delayed: number;
}

export interface LocalStack {
  readonly stack: StackDefinition;
  readonly sqs: LocalSqs;
  readonly sandbox: Sandbox;
  /**
   * Endpoints, the operator's credentials (the stack's OperatorPolicy) and the queue URLs: what the ops
   * tooling or any AWS client needs to reach the stack.
   */
  readonly env: Readonly<Record<string, string>>;
  /** The onboard function's environment (its stage configuration, its role's credentials). */
  readonly functionEnv: Readonly<Record<string, string>>;
  /** Who is who: each function's role credentials, the operator's, the member roles. */
  readonly identities: LocalIdentities;
  /** The environment of a function other than onboard (e.g. `reconcile`): `env` with its role's credentials. */
  roleEnv(functionName: string): Readonly<Record<string, string>>;
  readonly eventSources: readonly LocalEventSource[];
  depths(): Promise<Record<string, QueueDepth>>;
  /** Resolves once the source queues are empty and no batch is in flight (or rejects after `timeoutMs`). */
  drained(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/** Retries wait seconds, not minutes, on a laptop: the local stage's `retryBaseDelaySeconds`. */
const LOCAL_PARAMS = { retryBaseDelaySeconds: "1", logLevel: "INFO" };

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

export async function startLocalStack(options: LocalStackOptions): Promise<LocalStack> {
  const stageParams = { regions: options.regions.join(","), ...LOCAL_PARAMS, ...options.params };
  const stack = readStack("serverless.yml", { params: stageParams });
  const sqs = await startLocalSqs(stack.queues, options.queueAttributes);
  const administratorAccountId = options.sandbox?.administratorAccountId ?? LOCAL_ADMINISTRATOR_ACCOUNT_ID;
  const resources: Record<string, ResourceValue> = {};
  for (const [name, url] of Object.entries(sqs.urls)) {
    resources[name] = { ref: url, attributes: { Arn: sqs.arns[name] as string } };
  }
  const identities = localIdentities(
    stack,
    {
      accountId: administratorAccountId,
      region: LOCAL_REGION,
      stackName: `${stack.service}-${stack.stage}`,
      resources,
    },
    {
      managementAccountId: options.sandbox?.managementAccountId ?? "111111111111",
      memberRoles: options.memberRoles ?? "documented",
    },
  );
  const sandbox = await startSandbox({
    ...options.sandbox,
    administratorAccountId,
    principals: { ...identities.principals, ...options.sandbox?.principals },
    memberRoles: options.sandbox?.memberRoles ?? identities.memberRoles,
    onAuthorization: options.sandbox?.onAuthorization ?? callLog(),
  });
  const params: Record<string, string | undefined> = stack.params;
  const env: Record<string, string> = {
    AWS_REGION: LOCAL_REGION,
    ...identities.operator,
    AWS_ENDPOINT_URL_SQS: sqs.endpoint,
    ...sandbox.env(),
    GUARDDUTY_REGIONS: options.regions.join(","),
    ONBOARDING_QUEUE_URL: sqs.urls.OnboardingQueue as string,
    RETRY_QUEUE_URL: sqs.urls.RetryQueue as string,
    DEAD_LETTER_QUEUE_URL: sqs.urls.DeadLetterQueue as string,
    ADMINISTRATOR_ACCOUNT_ID: administratorAccountId,
  };
  const functionEnv: Record<string, string> = {
    ...env,
    ...(identities.functions.onboard as CredentialsEnv),
    MEMBERSHIP_MODE: params.membershipMode ?? "invitation",
    INVITATION_MESSAGE: params.invitationMessage ?? "",
    DISABLE_EMAIL_NOTIFICATION: params.disableEmailNotification ?? "true",
    MAX_ATTEMPTS: params.maxAttempts ?? "8",
    ACCEPT_INVITATIONS: params.acceptInvitations ?? "true",
    MEMBER_ROLE_NAME: params.memberRoleName ?? "",
    MEMBER_ROLE_EXTERNAL_ID: params.memberRoleExternalId ?? "",
    MEMBER_SOURCE_IDENTITY: params.memberSourceIdentity ?? "true",
    RETRY_BASE_DELAY_SECONDS: params.retryBaseDelaySeconds ?? "1",
    ADMINISTRATOR_ACCOUNT_ID: sandbox.administratorAccountId,
    POWERTOOLS_SERVICE_NAME: "guardduty-onboarding",
    POWERTOOLS_LOG_LEVEL: params.logLevel ?? "INFO",
    POWERTOOLS_METRICS_NAMESPACE: params.metricsNamespace ?? "GuardDutyOnboarding",
    AWS_LAMBDA_FUNCTION_NAME: `${stack.service}-${stack.stage}-onboard`,
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
    ...options.functionEnvironment,
  };

  const bundle: Bundle | undefined = options.withoutFunction
    ? undefined
    : await bundleFunction(stack.handler, stack.esbuild);
  const eventSources = bundle
    ? stack.eventSources.map(
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
              env: functionEnv,
              timeoutMs: stack.functionTimeoutSeconds * 1000,
              functionName: "guardduty-onboarding-local-onboard",
              onLog: options.onLog ?? (() => undefined),
            },
          }),
      )
    : [];
  for (const source of eventSources) source.start();

  const sources = stack.eventSources.map((settings) => settings.queue);
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
    stack,
    sqs,
    sandbox,
    env,
    functionEnv,
    identities,
    roleEnv(functionName) {
      const credentials = identities.functions[functionName];
      if (!credentials) throw new Error(`serverless.yml has no function ${functionName}`);
      return {
        ...env,
        ...credentials,
        AWS_LAMBDA_FUNCTION_NAME: `${stack.service}-${stack.stage}-${functionName}`,
      };
    },
    eventSources,
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
    },
  };
}
