/**
 * One scheduled reconcile run on the local stack, as EventBridge starts it: the reconcile function's
 * deployable bundle in a container of its own gets the schedule's event and starts the run; its units then
 * run through ReconcileQueue's local event source like every other queue's. Resolves with the run's report
 * (shared/reconcile.ts), read from the runs' table once the last unit has written it.
 */
import type { ScheduledEvent } from "aws-lambda";
import { createClients } from "#shared/clients";
import type { ReconcileReport } from "#shared/reconcile";
import { ReconcileRuns } from "#shared/reconcile-runs";
import { bundleFunction } from "./bundle.ts";
import { Container } from "./container.ts";
import type { LocalStack } from "./local-stack.ts";

export async function runReconcile(
  local: LocalStack,
  options: {
    readonly runId?: string;
    readonly onLog?: (line: string) => void;
    /** Give up waiting for the run's report after this long. */
    readonly timeoutMs?: number;
  } = {},
): Promise<ReconcileReport> {
  const runId = options.runId ?? `local-reconcile-${Date.now()}`;
  await startReconcile(local, runId, options.onLog ?? (() => undefined));
  return reconcileReport(local, runId, options.timeoutMs);
}

/** Invokes the reconcile function's bundle with a schedule event: the run starts, its units follow. */
export async function startReconcile(
  local: LocalStack,
  runId: string,
  onLog: (line: string) => void,
): Promise<void> {
  const fn = local.stack.functions.reconcile;
  if (!fn) throw new Error("serverless.yml has no reconcile function");
  const env = local.roleEnv("reconcile");
  const container = await Container.start({
    bundle: await bundleFunction(fn.handler, local.stack.esbuild),
    env,
    timeoutMs: fn.timeoutSeconds * 1000,
    functionName: env.AWS_LAMBDA_FUNCTION_NAME as string,
    onLog,
  });
  try {
    const result = await container.invoke(scheduledEvent(runId, local.sandbox.administratorAccountId));
    if (!result.ok) throw new Error(`the reconcile function failed (${result.kind}): ${result.error}`);
  } finally {
    await container.terminate();
  }
}

/** The report of run `runId`, once its last unit has written it. */
export async function reconcileReport(
  local: LocalStack,
  runId: string,
  timeoutMs = 300_000,
): Promise<ReconcileReport> {
  const env = local.roleEnv("reconcile");
  const clients = createClients({ env, region: env.AWS_REGION });
  const runs = new ReconcileRuns(clients.dynamodb, env.RECONCILE_RUNS_TABLE as string);
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      const report = await runs.report(runId);
      if (report) return report as ReconcileReport;
      if (Date.now() > deadline)
        throw new Error(`reconcile run ${runId} did not finish within ${timeoutMs / 1000} s`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  } finally {
    clients.dynamodb.destroy();
  }
}

/** An EventBridge schedule's event, as it invokes the reconcile function; its id names the run. */
export function scheduledEvent(id: string, account: string): ScheduledEvent {
  return {
    version: "0",
    id,
    "detail-type": "Scheduled Event",
    source: "aws.events",
    account,
    time: new Date().toISOString(),
    region: "us-east-1",
    resources: [`arn:aws:events:us-east-1:${account}:rule/guardduty-onboarding-local-reconcile`],
    detail: {},
  };
}
