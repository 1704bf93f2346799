/**
 * The worker-thread side of a local Lambda container: imports the bundled handler once (the cold
 * start), then runs one invocation at a time with a Lambda-like context whose deadline is the
 * function's timeout. A crash or a timeout is handled by the parent, which discards the container.
 */
import { randomUUID } from "node:crypto";
import { pathToFileURL } from "node:url";
import { parentPort, workerData } from "node:worker_threads";

interface RuntimeData {
  readonly handlerFile: string;
  readonly handlerName: string;
  readonly functionName: string;
  readonly timeoutMs: number;
  readonly memoryMb: number;
}

export interface Invocation {
  readonly id: number;
  readonly event: unknown;
}

export type RuntimeMessage =
  | { readonly type: "ready" }
  | { readonly type: "init-error"; readonly error: string }
  | { readonly type: "result"; readonly id: number; readonly result: unknown }
  | { readonly type: "error"; readonly id: number; readonly error: string };

const data = workerData as RuntimeData;
const port = parentPort;
if (!port) throw new Error("lambda-runtime runs in a worker thread");

try {
  const module = (await import(pathToFileURL(data.handlerFile).href)) as Record<string, unknown>;
  const handler = module[data.handlerName] as (event: unknown, context: unknown) => Promise<unknown>;
  if (typeof handler !== "function")
    throw new Error(`${data.handlerFile} exports no function ${data.handlerName}`);
  port.on("message", async ({ id, event }: Invocation) => {
    const deadline = Date.now() + data.timeoutMs;
    const context = {
      callbackWaitsForEmptyEventLoop: false,
      functionName: data.functionName,
      functionVersion: "$LATEST",
      invokedFunctionArn: `arn:aws:lambda:us-east-1:000000000000:function:${data.functionName}`,
      memoryLimitInMB: String(data.memoryMb),
      awsRequestId: randomUUID(),
      logGroupName: `/aws/lambda/${data.functionName}`,
      logStreamName: `local/[$LATEST]${randomUUID()}`,
      getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    };
    try {
      port.postMessage({
        type: "result",
        id,
        result: await handler(event, context),
      } satisfies RuntimeMessage);
    } catch (error) {
      port.postMessage({
        type: "error",
        id,
        error: String((error as Error)?.stack ?? error),
      } satisfies RuntimeMessage);
    }
  });
  port.postMessage({ type: "ready" } satisfies RuntimeMessage);
} catch (error) {
  port.postMessage({
    type: "init-error",
    error: String((error as Error)?.stack ?? error),
  } satisfies RuntimeMessage);
}
