/**
 * CloudFormation's intrinsic functions, evaluated the way CloudFormation does at deploy time, over the
 * values the local stack knows (its account, region, queue ARNs, role ARNs…). The local stack reads the
 * IAM policies of serverless.yml and of member-role/template.yml through this, so that the sandbox
 * enforces the very documents a deployment would create, and the IAM simulation test evaluates the
 * packaged template the same way.
 *
 * Supported: Ref (parameters, pseudo parameters, resources), Fn::GetAtt, Fn::Sub (both forms, `${!x}`
 * literals), Fn::Join, Fn::Split, Fn::Select, Fn::FindInMap (the template's Mappings), Fn::If with the
 * template's Conditions (Fn::Equals, Fn::Not, Fn::And, Fn::Or, Condition), and AWS::NoValue. Anything else is an error, never silently kept.
 */

export interface Template {
  readonly Parameters?: Readonly<Record<string, { readonly Default?: unknown }>>;
  readonly Conditions?: Readonly<Record<string, unknown>>;
  readonly Mappings?: Readonly<Record<string, Readonly<Record<string, Readonly<Record<string, unknown>>>>>>;
  readonly Resources: Readonly<Record<string, { readonly Type: string; readonly Properties?: unknown }>>;
}

/** What a resource resolves to: its `Ref` value and its attributes (`Arn`, `QueueName`…). */
export interface ResourceValue {
  readonly ref: string;
  readonly attributes?: Readonly<Record<string, string>>;
}

export interface Deployment {
  readonly accountId: string;
  readonly region: string;
  readonly partition?: string;
  readonly stackName?: string;
  /** Parameter values over the template's defaults. */
  readonly parameters?: Readonly<Record<string, string>>;
  /** Values of the resources the evaluated part refers to. */
  readonly resources?: Readonly<Record<string, ResourceValue>>;
}

/** Marks a value that `AWS::NoValue` removed: dropped from its object or list. */
const NO_VALUE = Symbol("AWS::NoValue");

export class TemplateEvaluator {
  readonly #template: Template;
  readonly #deployment: Deployment;
  readonly #conditions = new Map<string, boolean>();

  constructor(template: Template, deployment: Deployment) {
    this.#template = template;
    this.#deployment = deployment;
  }

  /** The value with every intrinsic function evaluated. */
  evaluate(value: unknown, path = "value"): unknown {
    const result = this.#evaluate(value, path);
    return result === NO_VALUE ? undefined : result;
  }

  /** A resource's properties, evaluated. */
  properties(logicalId: string): Record<string, unknown> {
    const resource = this.#template.Resources[logicalId];
    if (!resource) throw new Error(`template: no resource ${logicalId}`);
    return (this.evaluate(resource.Properties ?? {}, logicalId) ?? {}) as Record<string, unknown>;
  }

  condition(name: string): boolean {
    const known = this.#conditions.get(name);
    if (known !== undefined) return known;
    const definition = this.#template.Conditions?.[name];
    if (definition === undefined) throw new Error(`template: no condition ${name}`);
    const value = this.#truth(definition, `Conditions.${name}`);
    this.#conditions.set(name, value);
    return value;
  }

  #evaluate(value: unknown, path: string): unknown {
    if (Array.isArray(value)) {
      return value
        .map((item, index) => this.#evaluate(item, `${path}[${index}]`))
        .filter((item) => item !== NO_VALUE);
    }
    if (!value || typeof value !== "object") return value;
    const entries = Object.entries(value);
    const [key, argument] = entries[0] ?? [];
    if (entries.length === 1 && key !== undefined && (key === "Ref" || key.startsWith("Fn::"))) {
      return this.#intrinsic(key, argument, path);
    }
    const out: Record<string, unknown> = {};
    for (const [name, item] of entries) {
      const evaluated = this.#evaluate(item, `${path}.${name}`);
      if (evaluated !== NO_VALUE) out[name] = evaluated;
    }
    return out;
  }

  #intrinsic(name: string, argument: unknown, path: string): unknown {
    switch (name) {
      case "Ref":
        return this.#ref(String(argument), path);
      case "Fn::GetAtt": {
        const [resource, attribute] = Array.isArray(argument) ? argument : String(argument).split(".");
        return this.#attribute(String(resource), String(attribute), path);
      }
      case "Fn::Sub":
        return this.#sub(argument, path);
      case "Fn::Join": {
        const [separator, items] = argument as [string, unknown];
        return (this.#evaluate(items, path) as unknown[]).map(String).join(separator);
      }
      case "Fn::Split": {
        const [separator, text] = argument as [string, unknown];
        return String(this.#evaluate(text, path)).split(separator);
      }
      case "Fn::Select": {
        const [index, items] = argument as [unknown, unknown];
        return (this.#evaluate(items, path) as unknown[])[Number(this.#evaluate(index, path))];
      }
      case "Fn::FindInMap": {
        const [map, top, second] = (argument as unknown[]).map((item) => String(this.#evaluate(item, path)));
        const value = this.#template.Mappings?.[map ?? ""]?.[top ?? ""]?.[second ?? ""];
        if (value === undefined) throw new Error(`template: ${path}: no mapping ${map}.${top}.${second}`);
        return value;
      }
      case "Fn::If": {
        const [condition, whenTrue, whenFalse] = argument as [string, unknown, unknown];
        return this.#evaluate(this.condition(condition) ? whenTrue : whenFalse, path);
      }
      default:
        throw new Error(`template: ${path} uses ${name}, which the local evaluation does not support`);
    }
  }

  #truth(definition: unknown, path: string): boolean {
    const [[name, argument] = []] = Object.entries(definition as object);
    const items = argument as unknown[];
    switch (name) {
      case "Fn::Equals":
        return String(this.#evaluate(items[0], path)) === String(this.#evaluate(items[1], path));
      case "Fn::Not":
        return !this.#truth(items[0], path);
      case "Fn::And":
        return items.every((item) => this.#truth(item, path));
      case "Fn::Or":
        return items.some((item) => this.#truth(item, path));
      case "Condition":
        return this.condition(String(argument));
      default:
        throw new Error(`template: ${path} is not a condition function (${name})`);
    }
  }

  #ref(name: string, path: string): unknown {
    const { accountId, region, partition = "aws", stackName = "local" } = this.#deployment;
    const pseudo: Record<string, unknown> = {
      "AWS::AccountId": accountId,
      "AWS::Region": region,
      "AWS::Partition": partition,
      "AWS::StackName": stackName,
      "AWS::URLSuffix": "amazonaws.com",
      "AWS::NoValue": NO_VALUE,
    };
    if (name in pseudo) return pseudo[name];
    const given = this.#deployment.parameters?.[name];
    if (given !== undefined) return given;
    const parameter = this.#template.Parameters?.[name];
    if (parameter) {
      if (parameter.Default === undefined) throw new Error(`template: parameter ${name} has no value`);
      return String(parameter.Default);
    }
    const resource = this.#deployment.resources?.[name];
    if (resource) return resource.ref;
    throw new Error(`template: ${path} refers to ${name}, which the local deployment does not know`);
  }

  #attribute(resource: string, attribute: string, path: string): string {
    const value = this.#deployment.resources?.[resource]?.attributes?.[attribute];
    if (value === undefined) {
      throw new Error(
        `template: ${path} needs ${resource}.${attribute}, which the local deployment does not know`,
      );
    }
    return value;
  }

  #sub(argument: unknown, path: string): string {
    const [text, variables = {}] = Array.isArray(argument) ? argument : [argument];
    const values = this.#evaluate(variables, path) as Record<string, unknown>;
    return String(text).replace(/\$\{([^}]+)\}/g, (_, expression: string) => {
      if (expression.startsWith("!")) return `\${${expression.slice(1)}}`;
      if (expression in values) return String(values[expression]);
      const [name = "", attribute] = expression.split(".");
      return attribute === undefined ? String(this.#ref(name, path)) : this.#attribute(name, attribute, path);
    });
  }
}
