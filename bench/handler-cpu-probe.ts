/**
 * The child side of the CPU measurement: a process of its own that loads a deployable handler bundle
 * (onboard's or accept's) and invokes it on batches of SQS bodies, so that `process.cpuUsage()` counts
 * the handler alone (SDK clients, JSON, middy, Powertools logging) and none of the sandbox or SQS
 * server, which live in the parent. Input and output are JSON files named by `PROBE_INPUT` and
 * `PROBE_OUTPUT`.
 */
import { randomUUID } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

export interface ProbeInput {
  readonly handlerFile: string;
  readonly handlerName: string;
  /** Batches of SQS bodies run first and not measured: module caches, connections, the detector ids. */
  readonly warmup: readonly (readonly string[])[];
  /** Batches of SQS bodies, measured. */
  readonly batches: readonly (readonly string[])[];
}

export interface ProbeOutput {
  readonly userMicros: number;
  readonly systemMicros: number;
  readonly wallMs: number;
  /** Records the handler reported as batch item failures (a measurement of failing work is void). */
  readonly failedRecords: number;
}

type Handler = (event: unknown, context: unknown) => Promise<{ batchItemFailures?: unknown[] } | undefined>;

const input = JSON.parse(readFileSync(process.env.PROBE_INPUT as string, "utf8")) as ProbeInput;
const module = (await import(pathToFileURL(input.handlerFile).href)) as Record<string, Handler>;
const handler = module[input.handlerName] as Handler;

let failedRecords = 0;
async function invoke(bodies: readonly string[]): Promise<void> {
  const records = bodies.map((body) => {
    const messageId = randomUUID();
    return {
      messageId,
      receiptHandle: messageId,
      body,
      attributes: { ApproximateReceiveCount: "1", SentTimestamp: String(Date.now()) },
      messageAttributes: {},
      md5OfBody: "",
      eventSource: "aws:sqs",
      eventSourceARN: "arn:aws:sqs:us-east-1:000000000000:probe",
      awsRegion: "us-east-1",
    };
  });
  const deadline = Date.now() + 60_000;
  const result = await handler(
    { Records: records },
    {
      functionName: "probe",
      awsRequestId: randomUUID(),
      invokedFunctionArn: "arn:aws:lambda:us-east-1:000000000000:function:probe",
      memoryLimitInMB: "256",
      getRemainingTimeInMillis: () => deadline - Date.now(),
    },
  );
  failedRecords += result?.batchItemFailures?.length ?? 0;
}

for (const batch of input.warmup) await invoke(batch);
const before = process.cpuUsage();
const started = performance.now();
for (const batch of input.batches) await invoke(batch);
const cpu = process.cpuUsage(before);
const output: ProbeOutput = {
  userMicros: cpu.user,
  systemMicros: cpu.system,
  wallMs: performance.now() - started,
  failedRecords,
};
writeFileSync(process.env.PROBE_OUTPUT as string, JSON.stringify(output));
