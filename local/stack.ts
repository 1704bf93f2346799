/**
 * Reads `serverless.yml` — the one source of truth — for what the local stack must reproduce: the
 * queues and their attributes, the function's timeout, its SQS event sources, the stage parameters'
 * defaults and the esbuild options. Only the variables the file uses are resolved (`${self:…}`,
 * `${param:…}`, `${sls:stage}`, `${aws:region}`, `${opt:…, default}`, and `${file(x.json)}` as a whole
 * value).
 */
import { readFileSync } from "node:fs";
import { dirname, resolve as resolvePath } from "node:path";
import { parse } from "yaml";
import type { Template } from "./cloudformation.ts";
import type { TableDefinition } from "./dynamodb.ts";

export interface QueueDefinition {
  /** The CloudFormation logical id, e.g. `OnboardingQueue`. */
  readonly name: string;
  /** SQS attributes as CreateQueue takes them (strings), RedrivePolicy targets by logical id. */
  readonly attributes: Readonly<Record<string, string>>;
  readonly redrive?: { readonly target: string; readonly maxReceiveCount: number };
}

export interface EventSourceDefinition {
  /** Logical id of the source queue. */
  readonly queue: string;
  readonly batchSize: number;
  readonly maximumBatchingWindowSeconds: number;
  readonly maximumConcurrency: number;
  readonly reportBatchItemFailures: boolean;
}

/** One function of the stack, as serverless.yml declares it. */
export interface FunctionDefinition {
  /** The key under `functions:`, e.g. `onboard`. */
  readonly name: string;
  /** e.g. `functions/onboard.handler`. */
  readonly handler: string;
  readonly timeoutSeconds: number;
  /** Logical id of its IAM role among the template's resources (`role:`). */
  readonly role?: string;
  readonly eventSources: readonly EventSourceDefinition[];
}

export interface StackDefinition {
  /** `service:`, e.g. `guardduty-onboarding`. */
  readonly service: string;
  readonly stage: string;
  readonly region: string;
  readonly queues: readonly QueueDefinition[];
  /** The DynamoDB tables (`AWS::DynamoDB::Table`), properties resolved. */
  readonly tables: readonly TableDefinition[];
  /** The onboard function's (the pipeline's) timeout, handler and event sources. */
  readonly functionTimeoutSeconds: number;
  /** e.g. `functions/onboard.handler`. */
  readonly handler: string;
  readonly eventSources: readonly EventSourceDefinition[];
  readonly functions: Readonly<Record<string, FunctionDefinition>>;
  /**
   * `resources:` with serverless.yml's own variables resolved: what `serverless package` puts in the
   * CloudFormation template (CloudFormation's intrinsics are left to `cloudformation.ts`).
   */
  readonly template: Template;
  /** `provider.environment`: the functions' variables, CloudFormation intrinsics left in (`Ref: RetryQueue`). */
  readonly environment: Readonly<Record<string, unknown>>;
  /** `params.default`, resolved. */
  readonly params: Readonly<Record<string, string>>;
  readonly esbuild: Readonly<Record<string, unknown>>;
}

type Yaml = Record<string, unknown>;

/** SQS queue properties in the template that are CreateQueue attributes of the same name. */
const QUEUE_ATTRIBUTES = [
  "VisibilityTimeout",
  "MessageRetentionPeriod",
  "DelaySeconds",
  "ReceiveMessageWaitTimeSeconds",
  "MaximumMessageSize",
];

export function readStack(
  path: string | undefined = "serverless.yml",
  options: { stage?: string; region?: string; params?: Readonly<Record<string, string>> } = {},
): StackDefinition {
  const raw = parse(readFileSync(path ?? "serverless.yml", "utf8")) as Yaml;
  const stage = options.stage ?? "local";
  const region = options.region ?? "us-east-1";
  const rawParams = { ...((raw.params as Yaml | undefined)?.default ?? {}), ...options.params } as Yaml;
  const directory = dirname(resolvePath(path ?? "serverless.yml"));
  const resolve = (value: unknown): unknown =>
    resolveVariables(value, { raw, stage, region, params: rawParams, directory });
  const params = Object.fromEntries(
    Object.entries(rawParams).map(([key, value]) => [key, String(resolve(value))]),
  );

  const resources = ((raw.resources as Yaml).Resources ?? {}) as Record<
    string,
    { Type: string; Properties: Yaml }
  >;
  const queues = Object.entries(resources)
    .filter(([, resource]) => resource.Type === "AWS::SQS::Queue")
    .map(([name, resource]): QueueDefinition => {
      const properties = resolve(resource.Properties) as Yaml;
      const attributes = Object.fromEntries(
        QUEUE_ATTRIBUTES.filter((key) => properties[key] !== undefined).map((key) => [
          key,
          String(properties[key]),
        ]),
      );
      const redrive = properties.RedrivePolicy as
        | { deadLetterTargetArn: Yaml; maxReceiveCount: number }
        | undefined;
      const target = (redrive?.deadLetterTargetArn?.["Fn::GetAtt"] as string[] | undefined)?.[0];
      return {
        name,
        attributes,
        redrive: redrive && target ? { target, maxReceiveCount: Number(redrive.maxReceiveCount) } : undefined,
      };
    });

  const tables = Object.entries(resources)
    .filter(([, resource]) => resource.Type === "AWS::DynamoDB::Table")
    .map(([name, resource]): TableDefinition => ({ name, properties: resolve(resource.Properties) as Yaml }));

  const functions = Object.fromEntries(
    Object.entries(raw.functions as Yaml).map(([name, definition]) => {
      const fn = resolve(definition) as Yaml;
      const eventSources = ((fn.events ?? []) as Yaml[])
        .map((event) => event.sqs as Yaml | undefined)
        .filter((sqs): sqs is Yaml => sqs !== undefined)
        .map((sqs) => ({
          queue: ((sqs.arn as Yaml)["Fn::GetAtt"] as string[])[0] as string,
          batchSize: Number(sqs.batchSize ?? 10),
          maximumBatchingWindowSeconds: Number(sqs.maximumBatchingWindow ?? 0),
          maximumConcurrency: Number(sqs.maximumConcurrency ?? 1000),
          reportBatchItemFailures: sqs.functionResponseType === "ReportBatchItemFailures",
        }));
      const role = typeof fn.role === "string" ? fn.role : undefined;
      const timeoutSeconds = Number(fn.timeout ?? 6);
      return [name, { name, handler: String(fn.handler), timeoutSeconds, role, eventSources }];
    }),
  ) as Record<string, FunctionDefinition>;
  const onboard = functions.onboard;
  if (!onboard) throw new Error(`${path}: no onboard function`);
  const template = resolve({
    Parameters: (raw.resources as Yaml).Parameters ?? {},
    Mappings: (raw.resources as Yaml).Mappings ?? {},
    Conditions: (raw.resources as Yaml).Conditions ?? {},
    Resources: (raw.resources as Yaml).Resources ?? {},
  }) as unknown as Template;

  return {
    service: String(raw.service),
    stage,
    region,
    queues,
    tables,
    functionTimeoutSeconds: onboard.timeoutSeconds,
    handler: onboard.handler,
    eventSources: onboard.eventSources,
    functions,
    template,
    environment: (resolve((raw.provider as Yaml).environment ?? {}) ?? {}) as Record<string, unknown>,
    params,
    esbuild: resolve((raw.custom as Yaml).esbuild) as Yaml,
  };
}

interface Scope {
  readonly raw: Yaml;
  readonly stage: string;
  readonly region: string;
  readonly params: Yaml;
  /** serverless.yml's folder: where `${file(…)}` paths start. */
  readonly directory: string;
}

/** `${file(./x.json)}` or `${file(./x.json):a.b}`, as a whole value: the JSON file's content (or a part). */
const FILE = /^\$\{file\(([^)]+)\)(?::([^{}]+))?\}$/;

/**
 * serverless.yml's own variables: a known source, one colon, an address. CloudFormation's `${AWS::Region}`,
 * `${Resource.Arn}` and `${!literal}` are not among them and stay as they are for CloudFormation.
 */
const VARIABLE = /\$\{((?:self|param|sls|aws|opt):[^:{}][^{}]*)\}/g;

function resolveVariables(value: unknown, scope: Scope): unknown {
  if (Array.isArray(value)) return value.map((item) => resolveVariables(item, scope));
  if (value && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [key, resolveVariables(item, scope)]),
    );
  }
  if (typeof value !== "string") return value;
  const file = value.match(FILE);
  if (file) {
    const content = JSON.parse(readFileSync(resolvePath(scope.directory, file[1] as string), "utf8"));
    return (file[2] ?? "")
      .split(".")
      .filter(Boolean)
      .reduce((node, key) => node?.[key], content);
  }
  const whole = value.match(/^\$\{((?:self|param|sls|aws|opt):[^:{}][^{}]*)\}$/);
  // A value that is one variable keeps the variable's type (numbers stay numbers).
  if (whole) return resolveVariables(lookup(whole[1] as string, scope), scope);
  return value.replace(VARIABLE, (_, expression: string) =>
    String(resolveVariables(lookup(expression, scope), scope)),
  );
}

function lookup(expression: string, scope: Scope): unknown {
  const [reference = "", fallback] = expression.split(",").map((part) => part.trim());
  const [source, path = ""] = reference.split(/:(.*)/s);
  let value: unknown;
  if (source === "self")
    value = path.split(".").reduce<unknown>((node, key) => (node as Yaml | undefined)?.[key], scope.raw);
  else if (source === "param") value = scope.params[path];
  else if (source === "sls" && path === "stage") value = scope.stage;
  else if (source === "aws" && path === "region") value = scope.region;
  else if (source === "opt") value = undefined;
  if (value === undefined && fallback !== undefined) value = fallback.replace(/^['"]|['"]$/g, "");
  if (value === undefined) throw new Error(`serverless.yml: cannot resolve \${${expression}} locally`);
  return value;
}
