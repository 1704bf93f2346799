/**
 * Reads `serverless.yml` — the one source of truth — for what the local stack must reproduce: the
 * queues and their attributes, the function's timeout, its SQS event sources, the stage parameters'
 * defaults and the esbuild options. Only the variables the file uses are resolved (`${self:…}`,
 * `${param:…}`, `${sls:stage}`, `${aws:region}`, `${opt:…, default}`).
 */
import { readFileSync } from "node:fs";
import { parse } from "yaml";

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

export interface StackDefinition {
  readonly queues: readonly QueueDefinition[];
  readonly functionTimeoutSeconds: number;
  /** e.g. `functions/onboard.handler`. */
  readonly handler: string;
  readonly eventSources: readonly EventSourceDefinition[];
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
  path = "serverless.yml",
  options: { stage?: string; region?: string } = {},
): StackDefinition {
  const raw = parse(readFileSync(path, "utf8")) as Yaml;
  const stage = options.stage ?? "local";
  const region = options.region ?? "us-east-1";
  const rawParams = ((raw.params as Yaml | undefined)?.default ?? {}) as Yaml;
  const resolve = (value: unknown): unknown =>
    resolveVariables(value, { raw, stage, region, params: rawParams });
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

  const fn = resolve((raw.functions as Yaml).onboard) as Yaml;
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

  return {
    queues,
    functionTimeoutSeconds: Number(fn.timeout ?? 6),
    handler: String(fn.handler),
    eventSources,
    params,
    esbuild: resolve((raw.custom as Yaml).esbuild) as Yaml,
  };
}

interface Scope {
  readonly raw: Yaml;
  readonly stage: string;
  readonly region: string;
  readonly params: Yaml;
}

const VARIABLE = /\$\{([^{}]+)\}/g;

function resolveVariables(value: unknown, scope: Scope): unknown {
  if (Array.isArray(value)) return value.map((item) => resolveVariables(item, scope));
  if (value && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [key, resolveVariables(item, scope)]),
    );
  }
  if (typeof value !== "string") return value;
  const whole = value.match(/^\$\{([^{}]+)\}$/);
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
