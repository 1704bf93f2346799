/**
 * One local Lambda container: a worker thread with its own environment and module state (so caches
 * and cold starts behave as in Lambda), running one invocation at a time. A timeout or an injected
 * crash terminates the worker, as Lambda does; the next invocation then starts a new container.
 */
import { createInterface } from "node:readline";
import { Worker } from "node:worker_threads";
import type { Bundle } from "./bundle.ts";
import type { RuntimeMessage } from "./lambda-runtime.ts";

export type InvokeResult =
  | { readonly ok: true; readonly result: unknown }
  | { readonly ok: false; readonly kind: "error" | "timeout" | "crash"; readonly error: string };

export interface ContainerOptions {
  readonly bundle: Bundle;
  readonly env: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
  readonly functionName: string;
  /** Every line the function writes to stdout or stderr (its structured logs). */
  readonly onLog: (line: string) => void;
}

export class Container {
  readonly #worker: Worker;
  readonly #timeoutMs: number;
  #nextId = 0;
  #pending: ((message: RuntimeMessage | { type: "exit" }) => void) | undefined;
  #alive = true;

  private constructor(worker: Worker, timeoutMs: number) {
    this.#worker = worker;
    this.#timeoutMs = timeoutMs;
    worker.on("message", (message: RuntimeMessage) => this.#pending?.(message));
    worker.on("error", (error) =>
      this.#pending?.({ type: "error", id: -1, error: String(error.stack ?? error) }),
    );
    worker.on("exit", () => {
      this.#alive = false;
      this.#pending?.({ type: "exit" });
    });
  }

  get alive(): boolean {
    return this.#alive;
  }

  /** Starts a container and waits for its cold start (the handler module's initialisation). */
  static async start(options: ContainerOptions): Promise<Container> {
    const worker = new Worker(options.bundle.runtimeFile, {
      workerData: {
        handlerFile: options.bundle.handlerFile,
        handlerName: options.bundle.handlerName,
        functionName: options.functionName,
        timeoutMs: options.timeoutMs,
        memoryMb: 256,
      },
      env: { ...options.env },
      stdout: true,
      stderr: true,
    });
    for (const stream of [worker.stdout, worker.stderr]) {
      createInterface({ input: stream }).on("line", options.onLog);
    }
    const container = new Container(worker, options.timeoutMs);
    const first = await container.#next();
    if (first.type !== "ready") {
      await worker.terminate();
      throw new Error(`function initialisation failed: ${"error" in first ? first.error : first.type}`);
    }
    return container;
  }

  /** Runs one invocation; `crash` firing kills the container mid-invocation (fault injection). */
  async invoke(event: unknown, crash?: AbortSignal): Promise<InvokeResult> {
    const id = this.#nextId++;
    const answer = this.#next();
    let verdict: "timeout" | "crash" | undefined;
    const kill = (kind: "timeout" | "crash") => {
      verdict = kind;
      void this.#worker.terminate();
    };
    const timer = setTimeout(() => kill("timeout"), this.#timeoutMs);
    const onCrash = () => kill("crash");
    crash?.addEventListener("abort", onCrash, { once: true });
    this.#worker.postMessage({ id, event });
    const message = await answer;
    clearTimeout(timer);
    crash?.removeEventListener("abort", onCrash);
    if (verdict)
      return {
        ok: false,
        kind: verdict,
        error: `container ${verdict === "crash" ? "crashed" : "timed out"}`,
      };
    if (message.type === "result") return { ok: true, result: message.result };
    if (message.type === "error") return { ok: false, kind: "error", error: message.error };
    return { ok: false, kind: "crash", error: `container ${message.type}` };
  }

  async terminate(): Promise<void> {
    if (this.#alive) await this.#worker.terminate();
  }

  #next(): Promise<RuntimeMessage | { type: "exit" }> {
    return new Promise((resolve) => {
      this.#pending = (message) => {
        this.#pending = undefined;
        resolve(message);
      };
    });
  }
}
