/**
 * A client this project did not write against the sandbox: boto3 (test/support/boto3-driver.py) drives every
 * operation the sandbox implements (the set the conformance test probes) through a realistic onboarding,
 * with error paths, throttling and server errors (from two sandboxes that inject them on every call), and
 * requests botocore's parameter validation stops. botocore parses every answer into results and modeled
 * errors; every exchange it caused is also checked against botocore's models by the oracle
 * (test/support/aws-model.ts), as the SDK for JavaScript's exchanges are in sandbox-conformance.test.ts.
 */
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FaultOptions } from "../../sandbox/faults.ts";
import { type Exchange, type Sandbox, startSandbox } from "../../sandbox/server.ts";
import { loadModel, type Model, validateRequest, validateResponse } from "../support/aws-model.ts";
import { probeImplemented } from "../support/sandbox-probe.ts";

const SEED = 11;
const REGION = "us-west-2";
const ADMIN_KEY = "AKIDBOTO3ADMIN";
const MANAGEMENT_KEY = "AKIDBOTO3MANAGEMENT";
const DRIVER = join(import.meta.dirname, "..", "support", "boto3-driver.py");
/** The driver tags each request with its step number. */
const STEP_HEADER = "x-boto3-driver-step";
/** Set by botocore when it refuses a call's parameters before sending anything. */
const PARAM_VALIDATION = "ParamValidationError";
const models: Readonly<Record<string, Model>> = {
  guardduty: loadModel("guardduty"),
  organizations: loadModel("organizations"),
  sts: loadModel("sts"),
};

/** One line of the driver's output. */
interface DriverStep {
  readonly step: number;
  readonly label: string;
  readonly service: string;
  readonly operation: string;
  /** `ok`, or the error code the step must end with. */
  readonly expected: string;
  /** The request breaks the model on purpose (botocore does not check maximums): the sandbox must refuse it. */
  readonly invalidRequest: boolean;
  readonly ok: boolean;
  readonly code: string | null;
  readonly status: number | null;
  /** The class botocore raised: the modeled exception's, `ClientError` for an unmodeled code. */
  readonly exception: string | null;
  readonly message?: string;
  /** A success whose answer contradicts the scenario, or a step that sent the wrong number of requests. */
  readonly problem?: string;
  readonly requests: number;
}

interface Recorded {
  readonly sandbox: string;
  readonly exchange: Exchange;
}

const recorded: Recorded[] = [];
const sandboxes: Sandbox[] = [];
let steps: DriverStep[] = [];
let driver: { exitCode: number; stderr: string; seconds: number };

// The same probe as the conformance test: the operations the sandbox resolves under their model names.
const { implemented, misrouted } = await probeImplemented(models, SEED);

async function start(name: string, faults: FaultOptions = {}): Promise<Sandbox> {
  const sandbox = await startSandbox({
    seed: SEED,
    faults,
    onExchange: (exchange) => recorded.push({ sandbox: name, exchange }),
  });
  sandboxes.push(sandbox);
  sandbox.registerCredentials(ADMIN_KEY, sandbox.administratorAccountId);
  sandbox.registerCredentials(MANAGEMENT_KEY, sandbox.managementAccountId);
  return sandbox;
}

/** The environment of the driver: no AWS configuration of this machine, no proxy for loopback. */
function driverEnv(): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith("AWS_")));
  return {
    ...env,
    AWS_CONFIG_FILE: "/dev/null",
    AWS_SHARED_CREDENTIALS_FILE: "/dev/null",
    AWS_EC2_METADATA_DISABLED: "true",
    NO_PROXY: "127.0.0.1,localhost",
    no_proxy: "127.0.0.1,localhost",
    PYTHONDONTWRITEBYTECODE: "1",
  };
}

beforeAll(async () => {
  const sandbox = await start("main");
  const never = { ratePerSecond: 0, burst: 0 };
  const throttling = await start("throttling", { guardDutyThrottle: never, organizationsThrottle: never });
  const failing = await start("failing", { serverErrorRate: 1 });
  const reserved = [sandbox.administratorAccountId, sandbox.managementAccountId];
  const [b, c, d, outsider] = sandbox
    .accounts()
    .filter((account) => account.state === "ACTIVE" && !reserved.includes(account.id))
    .map((account) => account.id);
  const members = [b, c, d].map((accountId = "") => {
    const key = `AKIDBOTO3MEMBER${accountId}`;
    sandbox.registerCredentials(key, accountId);
    return `${accountId}=${key}`;
  });
  const options = {
    endpoint: sandbox.url,
    "throttling-endpoint": throttling.url,
    "failing-endpoint": failing.url,
    region: REGION,
    "admin-key": ADMIN_KEY,
    "management-key": MANAGEMENT_KEY,
    outsider: outsider ?? "",
  };
  const args = [
    DRIVER,
    ...Object.entries(options).flatMap(([name, value]) => [`--${name}`, value]),
    ...members.flatMap((member) => ["--member", member]),
  ];
  const began = performance.now();
  // Asynchronous: the sandboxes answer the driver from this very process.
  const result = await promisify(execFile)("python3", args, { env: driverEnv(), timeout: 25_000 }).then(
    (out) => ({ ...out, exitCode: 0 }),
    (error: { stdout?: string; stderr?: string; code?: number | string }) => ({
      stdout: error.stdout ?? "",
      stderr: `${error.stderr ?? ""}${String(error)}`,
      exitCode: typeof error.code === "number" ? error.code : -1,
    }),
  );
  driver = { exitCode: result.exitCode, stderr: result.stderr, seconds: (performance.now() - began) / 1000 };
  steps = result.stdout
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as DriverStep);
  await new Promise((resolve) => setImmediate(resolve)); // the sandboxes report an exchange on "finish"
});

afterAll(async () => {
  await Promise.all(sandboxes.map((sandbox) => sandbox.close()));
});

const exchangesOf = (step: DriverStep) =>
  recorded.filter((r) => r.exchange.request.headers[STEP_HEADER] === String(step.step));
const outcome = (step: DriverStep) => (step.ok ? "ok" : (step.code ?? "no code"));

/** The class botocore raises for an error code: the model's error shape with that code, else ClientError. */
function exceptionClass(service: string, code: string): string {
  const shapes = Object.entries(models[service]?.shapes ?? {});
  const modeled = shapes.find(
    ([name, shape]) =>
      (shape as { exception?: boolean }).exception === true && (shape.error?.code ?? name) === code,
  );
  return modeled?.[0] ?? "ClientError";
}

/**
 * The oracle's verdict on one exchange of a step, against the operation boto3 called (a request the sandbox
 * refuses before routing, e.g. for an unknown key, names no operation of its own). A request broken on
 * purpose must be flagged by the oracle and refused by the sandbox; every response must conform.
 */
function problemsOf(step: DriverStep, { sandbox, exchange }: Recorded): string[] {
  const model = models[step.service];
  const where = `step ${step.step} ${step.label} [${sandbox}] (HTTP ${exchange.status})`;
  if (model === undefined) return [`${where}: no model for ${step.service}`];
  const request = validateRequest(model, step.operation, exchange.request);
  const problems = validateResponse(model, step.operation, exchange).map((p) => `${where} response: ${p}`);
  if (!step.invalidRequest) return [...request.map((p) => `${where} request: ${p}`), ...problems];
  if (request.length === 0)
    problems.unshift(`${where}: the request was meant to break the model, and does not`);
  else if (exchange.status < 400)
    problems.unshift(`${where}: accepted a request the model rejects: ${request.join("; ")}`);
  return problems;
}

describe("boto3 against the sandbox", () => {
  it("runs the driver to its end, well within the test's time", () => {
    // Assess
    expect({ exitCode: driver.exitCode, stderr: driver.stderr }).toEqual({ exitCode: 0, stderr: "" });
    expect(steps.length).toBeGreaterThan(0);
    expect(driver.seconds).toBeLessThan(20);
  });

  it("ends every step as the scenario expects: success, or botocore raising the expected error code", () => {
    // Act
    const departures = steps
      .filter((s) => outcome(s) !== s.expected || s.problem !== undefined)
      .map((s) => ({
        step: `${s.step} ${s.label} (${s.service}:${s.operation})`,
        expected: s.expected,
        got: outcome(s),
        status: s.status,
        problem: s.problem ?? s.message,
      }));

    // Assess
    expect(departures).toEqual([]);
  });

  it("raises the modeled exception class for every modeled error code, ClientError for the others", () => {
    // Act
    const errors = steps.filter((s) => !s.ok && s.code !== null && s.code !== PARAM_VALIDATION);
    const raised = errors.map((s) => `${s.step} ${s.label}: ${s.exception}`);
    const modeled = errors.map((s) => `${s.step} ${s.label}: ${exceptionClass(s.service, s.code ?? "")}`);

    // Assess
    expect(errors.length).toBeGreaterThan(0);
    expect(raised).toEqual(modeled);
  });

  it("calls exactly the operations the sandbox implements, each through a success", () => {
    // Act
    const resolved = recorded.filter((r) => r.exchange.operation !== undefined);
    const exercised = [
      ...new Set(resolved.map((r) => `${r.exchange.service}:${r.exchange.operation}`)),
    ].sort();
    const called = [...new Set(steps.map((s) => `${s.service}:${s.operation}`))].sort();
    const succeeded = [
      ...new Set(steps.filter((s) => s.ok).map((s) => `${s.service}:${s.operation}`)),
    ].sort();

    // Assess
    expect(implemented.length).toBeGreaterThan(0);
    expect({ exercised, called, succeeded, misrouted }).toEqual({
      exercised: implemented,
      called: implemented,
      succeeded: implemented,
      misrouted: [],
    });
  });

  it("routes every request to the operation boto3 called, wherever the sandbox names one", () => {
    // Act
    const misnamed = steps.flatMap((s) =>
      exchangesOf(s)
        .filter(({ exchange: x }) => x.operation !== undefined)
        .filter(({ exchange: x }) => `${x.service}:${x.operation}` !== `${s.service}:${s.operation}`)
        .map(({ exchange: x }) => `${s.step} ${s.label}: ${x.service}:${x.operation}`),
    );

    // Assess
    expect(misnamed).toEqual([]);
  });

  it("puts every request of a step on the wire, and no request outside a step", () => {
    // Act
    const counts = steps.map((s) => `${s.step} ${s.label}: ${exchangesOf(s).length}`);
    const untagged = recorded.filter((r) => r.exchange.request.headers[STEP_HEADER] === undefined);

    // Assess
    expect(counts).toEqual(steps.map((s) => `${s.step} ${s.label}: ${s.requests}`));
    expect(untagged.map((r) => `${r.exchange.request.method} ${r.exchange.request.path}`)).toEqual([]);
  });

  it("sends and receives only what botocore's models allow, in every exchange", () => {
    // Act
    const problems = steps.flatMap((s) => exchangesOf(s).flatMap((r) => problemsOf(s, r)));

    // Assess
    expect(recorded.length).toBeGreaterThan(0);
    expect(problems).toEqual([]);
  });
});
