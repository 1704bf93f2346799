/**
 * The shape half of the AWS model oracle (see aws-model.ts): botocore's shape vocabulary, and a checker
 * that walks one value against one shape, listing every departure as a readable problem.
 */

export interface ShapeRef {
  readonly shape: string;
  /** `uri`, `querystring`, `header`…; absent for body members. */
  readonly location?: string;
  /** The wire name when it is not the member name. */
  readonly locationName?: string;
  readonly timestampFormat?: string;
  readonly flattened?: boolean;
}
export interface Shape {
  readonly type: string;
  readonly members?: Readonly<Record<string, ShapeRef>>;
  readonly required?: readonly string[];
  readonly member?: ShapeRef;
  readonly key?: ShapeRef;
  readonly value?: ShapeRef;
  readonly enum?: readonly string[];
  readonly min?: number;
  readonly max?: number;
  readonly pattern?: string;
  readonly timestampFormat?: string;
  readonly flattened?: boolean;
  readonly payload?: string;
  readonly fault?: boolean;
  readonly error?: { readonly code?: string; readonly httpStatusCode?: number };
}
export interface Operation {
  readonly http: { readonly method: string; readonly requestUri: string; readonly responseCode?: number };
  readonly input?: { readonly shape: string };
  readonly output?: { readonly shape: string; readonly resultWrapper?: string };
  readonly errors?: readonly { readonly shape: string }[];
}
export interface Model {
  readonly metadata: {
    readonly protocol: string;
    readonly apiVersion: string;
    readonly serviceId: string;
    readonly targetPrefix?: string;
    readonly endpointPrefix?: string;
  };
  readonly operations: Readonly<Record<string, Operation>>;
  readonly shapes: Readonly<Record<string, Shape>>;
  /** paginators-1.json beside the model: operation → its output token member(s). */
  readonly paginators: Readonly<Record<string, { readonly output_token?: string | readonly string[] }>>;
}

/** How values are carried, and where problems go. */
export interface Ctx {
  readonly model: Model;
  /** `json`: typed JSON values; `text`: every scalar a string (URIs, query strings, forms, XML). */
  readonly mode: "json" | "text";
  /** The location's default timestamp format: JSON bodies epoch seconds, XML/forms/query ISO 8601. */
  readonly timestamps: "unixTimestamp" | "iso8601" | "rfc822";
  readonly problems: string[];
}

export const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);
export const show = (v: unknown): string => (JSON.stringify(v) ?? String(v)).slice(0, 80);
const ISO_8601 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})$/;
const HTTP_DATE = /^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/;
const NUMBER = /^-?\d+(\.\d+)?([eE][+-]?\d+)?$/;

/** Patterns left unchecked because the Java regex has no clean JS equivalent: counted, never hidden. */
export const skippedPatterns = new Set<string>();
const compiled = new Map<string, RegExp | undefined>();
function regex(pattern: string): RegExp | undefined {
  if (!compiled.has(pattern)) {
    let re: RegExp | undefined;
    // Java's `\u10000` is one code point where JS reads `\u1000` then `0`; the rest must compile under /u
    // (which also rejects Java-only escapes such as `\:`). Smithy patterns are not anchored: `test` searches.
    if (!/\\u[0-9A-Fa-f]{5}/.test(pattern)) {
      try {
        re = new RegExp(pattern, "u");
      } catch {}
    }
    if (re === undefined) skippedPatterns.add(pattern);
    compiled.set(pattern, re);
  }
  return compiled.get(pattern);
}

/** A list's items: a JSON array, repeated query parameters, `<member>` elements or `Name.member.N` keys. */
function items(c: Ctx, value: unknown, flattened: boolean, name: string): unknown[] | undefined {
  if (Array.isArray(value)) return value;
  if (c.mode === "json") return undefined;
  if (value === "") return [];
  const inner = flattened ? value : isObject(value) ? value[name] : undefined;
  if (inner === undefined) return flattened ? [value] : undefined;
  if (Array.isArray(inner)) return inner;
  const keys = isObject(inner) ? Object.keys(inner) : [];
  if (keys.length > 0 && keys.every((k) => /^\d+$/.test(k))) {
    const sorted = keys.map(Number).sort((a, b) => a - b);
    if (sorted.some((n, i) => n !== i + 1)) c.problems.push(`list indexes must run 1..N, got ${sorted}`);
    return sorted.map((n) => (inner as Record<string, unknown>)[String(n)]);
  }
  return [inner];
}

/** Checks `value` against the shape `ref` points to: type, enum, length, count, range, pattern, members. */
export function check(c: Ctx, ref: ShapeRef, value: unknown, path: string): void {
  const shape = c.model.shapes[ref.shape];
  const bad = (what: string) => c.problems.push(`${path}: ${what} (shape ${ref.shape})`);
  if (shape === undefined) return void bad("no such shape in the model");
  const size = (n: number, unit: string) => {
    if (shape.min !== undefined && n < shape.min) bad(`${n} ${unit}, below the minimum ${shape.min}`);
    if (shape.max !== undefined && n > shape.max) bad(`${n} ${unit}, above the maximum ${shape.max}`);
  };
  const text = c.mode === "text" && typeof value === "string" ? value : undefined;
  switch (shape.type) {
    case "structure":
      checkStructure(c, ref.shape, text === "" ? {} : value, path);
      return;
    case "list": {
      const flattened = Boolean(ref.flattened ?? shape.flattened);
      const list = items(c, value, flattened, shape.member?.locationName ?? "member");
      if (list === undefined || shape.member === undefined)
        return void bad(`expected a list, got ${show(value)}`);
      size(list.length, "items");
      for (const [i, item] of list.entries()) check(c, shape.member, item, `${path}[${i}]`);
      return;
    }
    case "map": {
      const [k, v] = [shape.key?.locationName ?? "key", shape.value?.locationName ?? "value"];
      const pair = (e: unknown) => (isObject(e) ? [e[k], e[v]] : [e, undefined]);
      const entries =
        c.mode === "json"
          ? isObject(value)
            ? Object.entries(value)
            : undefined
          : items(c, value, Boolean(shape.flattened), "entry")?.map(pair);
      if (entries === undefined || !shape.key || !shape.value)
        return void bad(`expected a map, got ${show(value)}`);
      size(entries.length, "entries");
      for (const [key, val] of entries) {
        check(c, shape.key, key, `${path} key ${show(key)}`);
        check(c, shape.value, val, `${path}[${show(key)}]`);
      }
      return;
    }
    case "string": {
      if (typeof value !== "string") return void bad(`expected a string, got ${show(value)}`);
      if (shape.enum && !shape.enum.includes(value))
        bad(`${show(value)} is not one of ${shape.enum.join(", ")}`);
      size([...value].length, "characters");
      const re = shape.pattern === undefined ? undefined : regex(shape.pattern);
      if (re && !re.test(value)) bad(`${show(value)} does not match the pattern ${shape.pattern}`);
      return;
    }
    case "integer":
    case "long":
    case "float":
    case "double": {
      const n = text !== undefined && NUMBER.test(text) ? Number(text) : value;
      const whole = shape.type === "integer" || shape.type === "long";
      if (typeof n !== "number" || !Number.isFinite(n) || (whole && !Number.isInteger(n)))
        return void bad(`expected ${whole ? "a whole number" : "a number"}, got ${show(value)}`);
      if (shape.min !== undefined && n < shape.min) bad(`${n} is below the minimum ${shape.min}`);
      if (shape.max !== undefined && n > shape.max) bad(`${n} is above the maximum ${shape.max}`);
      return;
    }
    case "boolean":
      if (c.mode === "json" ? typeof value !== "boolean" : text !== "true" && text !== "false")
        bad(`expected a boolean, got ${show(value)}`);
      return;
    case "timestamp": {
      const format = ref.timestampFormat ?? shape.timestampFormat ?? c.timestamps;
      const epoch =
        c.mode === "json" ? typeof value === "number" && Number.isFinite(value) : NUMBER.test(text ?? "");
      const dated = typeof value === "string" && !Number.isNaN(Date.parse(value));
      const ok =
        format === "unixTimestamp"
          ? epoch
          : dated && (format === "rfc822" ? HTTP_DATE : ISO_8601).test(value);
      if (!ok) bad(`expected a ${format} timestamp, got ${show(value)}`);
      return;
    }
    case "blob":
      if (typeof value !== "string" || !/^[A-Za-z0-9+/]*={0,2}$/.test(value))
        bad(`expected base64, got ${show(value)}`);
      return;
    default:
      bad(`the oracle does not know the type ${shape.type}`);
  }
}

/**
 * Checks a structure's body members (those without a `location`), keyed on the wire by `locationName`, else
 * by member name: required ones present, each valid, and no key the shape does not declare, except the
 * protocol's own (`protocolKeys`, and `xmlns` attributes in XML).
 */
export function checkStructure(
  c: Ctx,
  name: string,
  value: unknown,
  path: string,
  protocolKeys: readonly string[] = [],
): void {
  const shape = c.model.shapes[name];
  if (!isObject(value) || shape === undefined)
    return void c.problems.push(`${path}: expected a structure ${name}, got ${show(value)}`);
  // None of the operations this oracle serves binds a payload member; say so rather than guess.
  if (shape.payload !== undefined) return void c.problems.push(`${path}: payload members are not supported`);
  const members = new Map(
    Object.entries(shape.members ?? {})
      .filter(([, ref]) => ref.location === undefined)
      .map(([member, ref]) => [ref.locationName ?? member, { member, ref }]),
  );
  for (const [wire, { member, ref }] of members) {
    const v = value[wire];
    if (v !== undefined && v !== null) check(c, ref, v, `${path}.${wire}`);
    else if (shape.required?.includes(member))
      c.problems.push(`${path}: missing required member ${member} ("${wire}") of ${name}`);
  }
  for (const key of Object.keys(value)) {
    const xmlns = c.mode === "text" && key.startsWith("xmlns");
    if (!members.has(key) && !protocolKeys.includes(key) && !xmlns)
      c.problems.push(`${path}: unknown member "${key}" (not in ${name})`);
  }
}
