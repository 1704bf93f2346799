/**
 * The project's pipeline under a benchmark profile: the local stack (SQS server, sandbox, DynamoDB,
 * Lambda's SQS event sources invoking the deployable bundles of onboard and accept) with serverless.yml's
 * event-source settings unchanged — they are the product — and the stage's own `retryBaseDelaySeconds`,
 * not the local 1 s shortcut. Acceptance is on as deployed (`acceptInvitations`), unless asked off.
 */
import { availableParallelism } from "node:os";
import { SendMessageBatchCommand, SendMessageCommand } from "@aws-sdk/client-sqs";
import { accountCreatedEvent } from "../local/inputs.ts";
import { type LocalStack, startLocalStack } from "../local/local-stack.ts";
import { readStack } from "../local/stack.ts";
import { OutcomeTally, peekDeadLetters } from "../local/summary.ts";
import type { Sandbox } from "../sandbox/server.ts";
import { figuresOf, type RunFigures } from "./figures.ts";
import { memberTimes } from "./invitations.ts";
import { type Profile, profileFaults } from "./profile.ts";
import { arrivalOffsetMs, organizationOf, type Scenario } from "./scenario.ts";
import { percentile } from "./stats.ts";

export interface PipelineOptions {
  readonly profile: Profile;
  /**
   * The stage parameter `acceptInvitations` (default on, as deployed): onboard hands every invited
   * account to AcceptQueue and the accept function enters it. Its calls are reported apart.
   */
  readonly acceptInvitations: boolean;
  /** The stage's membershipMode (default invitation): organization mode has no invitation, no member side. */
  readonly mode?: "invitation" | "organization";
  /** Give up waiting for the queues to drain after this long (the run still reports what it saw). */
  readonly timeoutMs: number;
}

export interface PipelineFigures extends RunFigures {
  /** First event published → queues drained (includes the event source's final quiet checks). */
  readonly drainedMs: number;
  readonly drained: boolean;
  /** Invocations and containers (cold starts) of every function together. */
  readonly invocations: number;
  readonly containers: number;
  /** The same per function (`onboard`, `accept`), over all its event sources. */
  readonly functions: Readonly<Record<string, FunctionStats>>;
  /**
   * When the sandbox received the first and the last call of the operations that mark the pipeline's
   * phases, in ms from the first event (sampled every 50 ms): where the time goes.
   */
  readonly timeline: Readonly<Record<string, { readonly firstMs: number; readonly lastMs: number }>>;
  /** Invitation → Enabled per (account, region): what the member side (queue, function, calls) adds. */
  readonly invitedToEnabled: { readonly p50Ms: number; readonly p95Ms: number; readonly maxMs: number };
  /**
   * CPU the whole local stack used (this process: sandbox, SQS server, DynamoDB, event sources and the
   * functions' worker threads; anything else in the process too) as a share of the machine's cores: over
   * the run, and from the last invitation to the last Enabled member (the member side alone). Near 1, the
   * machine, not the profile, sets the pace.
   */
  readonly hostCpu: {
    readonly cores: number;
    readonly utilization: number;
    readonly memberPhaseUtilization: number;
    /**
     * Event-loop utilization of this process's main thread — the sandbox (IAM evaluation of every call
     * included), the SQS server and DynamoDB all answer on it — over the member phase. Near 1, the
     * local services, not the functions, are the bottleneck.
     */
    readonly memberPhaseMainThread: number;
  };
  readonly outcomes: Record<string, number>;
  readonly reasons: Record<string, number>;
  readonly deadLetters: number;
}

export interface FunctionStats {
  readonly invocations: number;
  readonly containers: number;
  readonly records: number;
}

export async function runPipeline(scenario: Scenario, options: PipelineOptions): Promise<PipelineFigures> {
  const tally = new OutcomeTally();
  const stage = readStack().params;
  const local = await startLocalStack({
    regions: scenario.regions,
    sandbox: { ...organizationOf(scenario, options.profile), faults: profileFaults(options.profile) },
    params: {
      retryBaseDelaySeconds: stage.retryBaseDelaySeconds ?? "30",
      acceptInvitations: String(options.acceptInvitations),
      membershipMode: options.mode ?? "invitation",
    },
    onLog: (line) => tally.add(line),
    onError: (message) => process.stderr.write(`${message}\n`),
  });
  const timeline = new CallTimeline(local.sandbox);
  try {
    const publishedAt = await publishScenario(local, scenario);
    const start = Math.min(...publishedAt.values());
    let drained = true;
    try {
      await local.drained(options.timeoutMs);
    } catch {
      drained = false;
    }
    const drainedMs = Date.now() - start;
    timeline.stop();
    const counters = local.sandbox.counters.snapshot();
    const functions = functionStats(local);
    const all = Object.values(functions);
    const deadLetters = await peekDeadLetters(local.sqs.client, local.sqs.urls.DeadLetterQueue as string);
    const { invitedAt, enabledAt } = await memberTimes(
      local.sandbox,
      scenario.accountIds,
      scenario.regions,
      options.mode,
    );
    return {
      ...figuresOf({
        accounts: scenario.accountIds,
        regions: scenario.regions,
        counters,
        publishedAt,
        invitedAt,
        enabledAt,
        // The onboard function's containers each find the administrator's detector once per region.
        administratorListDetectors: (functions.onboard?.containers ?? 0) * scenario.regions.length,
      }),
      drainedMs,
      drained,
      invocations: all.reduce((sum, stats) => sum + stats.invocations, 0),
      containers: all.reduce((sum, stats) => sum + stats.containers, 0),
      functions,
      timeline: timeline.since(start),
      invitedToEnabled: between(invitedAt, enabledAt),
      hostCpu: hostCpu(timeline, invitedAt, enabledAt, start),
      outcomes: tally.outcomes,
      reasons: tally.reasons,
      deadLetters: deadLetters.length,
    };
  } finally {
    timeline.stop();
    await local.stop();
  }
}

/** The operations whose first and last calls mark the phases: listing, administrator side, member side. */
const MILESTONES = [
  "ListAccounts",
  "DescribeAccount",
  "CreateMembers",
  "InviteMembers",
  "AssumeRole",
  "AcceptAdministratorInvitation",
];

/**
 * Samples the sandbox's call counters every 50 ms: when each milestone operation was first and last
 * called; and the process's CPU time (all its threads), to tell how busy the machine was.
 */
class CallTimeline {
  readonly #first = new Map<string, number>();
  readonly #last = new Map<string, number>();
  readonly #counts = new Map<string, number>();
  readonly #timer: NodeJS.Timeout;
  /** [epoch ms, CPU µs of the process so far, main-thread event-loop active ms so far]. */
  readonly cpu: [number, number, number][] = [];

  constructor(sandbox: Sandbox) {
    const sample = () => {
      const { user, system } = process.cpuUsage();
      this.cpu.push([Date.now(), user + system, performance.eventLoopUtilization().active]);
    };
    sample();
    this.#timer = setInterval(() => {
      sample();
      const now = Date.now();
      for (const operation of MILESTONES) {
        const calls = sandbox.counters.calls(operation);
        if (calls > (this.#counts.get(operation) ?? 0)) {
          if (!this.#first.has(operation)) this.#first.set(operation, now);
          this.#last.set(operation, now);
          this.#counts.set(operation, calls);
        }
      }
    }, 50);
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  /** CPU time used between two moments ÷ their distance: cores busy on average (nearest samples). */
  coresBusy(from: number, to: number): number {
    const [[start, startCpu], [end, endCpu]] = [this.#at(from), this.#at(to)];
    return end > start ? (endCpu - startCpu) / 1000 / (end - start) : Number.NaN;
  }

  /** The main thread's event-loop utilization between two moments. */
  mainThreadBusy(from: number, to: number): number {
    const [start, , startActive] = this.#at(from);
    const [end, , endActive] = this.#at(to);
    return end > start ? (endActive - startActive) / (end - start) : Number.NaN;
  }

  #at(time: number): [number, number, number] {
    return this.cpu.reduce((best, sample) =>
      Math.abs(sample[0] - time) < Math.abs(best[0] - time) ? sample : best,
    );
  }

  since(start: number): Record<string, { firstMs: number; lastMs: number }> {
    return Object.fromEntries(
      [...this.#first].map(([operation, first]) => [
        operation,
        { firstMs: first - start, lastMs: (this.#last.get(operation) as number) - start },
      ]),
    );
  }
}

function hostCpu(
  timeline: CallTimeline,
  invitedAt: ReadonlyMap<string, number>,
  enabledAt: ReadonlyMap<string, number>,
  start: number,
): PipelineFigures["hostCpu"] {
  const cores = availableParallelism();
  const last = (times: ReadonlyMap<string, number>) => Math.max(Number.NEGATIVE_INFINITY, ...times.values());
  const end = timeline.cpu.at(-1)?.[0] ?? start;
  const member = enabledAt.size > 0;
  return {
    cores,
    utilization: timeline.coresBusy(start, end) / cores,
    memberPhaseUtilization: member
      ? timeline.coresBusy(last(invitedAt), last(enabledAt)) / cores
      : Number.NaN,
    memberPhaseMainThread: member ? timeline.mainThreadBusy(last(invitedAt), last(enabledAt)) : Number.NaN,
  };
}

/** Invitation → Enabled per pair that has both. */
function between(
  invitedAt: ReadonlyMap<string, number>,
  enabledAt: ReadonlyMap<string, number>,
): { p50Ms: number; p95Ms: number; maxMs: number } {
  const waits: number[] = [];
  for (const [pair, enabled] of enabledAt) {
    const invited = invitedAt.get(pair);
    if (invited !== undefined) waits.push(enabled - invited);
  }
  if (waits.length === 0) return { p50Ms: Number.NaN, p95Ms: Number.NaN, maxMs: Number.NaN };
  return { p50Ms: percentile(waits, 0.5), p95Ms: percentile(waits, 0.95), maxMs: Math.max(...waits) };
}

/**
 * Invocations, containers and records per function. The local stack starts one event source per SQS
 * event of each function, in serverless.yml's order (local/local-stack.ts), so the i-th source is the
 * i-th SQS event of the functions taken in order.
 */
function functionStats(local: LocalStack): Record<string, FunctionStats> {
  const owners = Object.values(local.stack.functions).flatMap((fn) => fn.eventSources.map(() => fn.name));
  if (owners.length !== local.eventSources.length)
    throw new Error(
      `${local.eventSources.length} event sources for ${owners.length} SQS events in serverless.yml`,
    );
  const stats: Record<string, FunctionStats> = {};
  for (const [index, source] of local.eventSources.entries()) {
    const name = owners[index] as string;
    const before = stats[name] ?? { invocations: 0, containers: 0, records: 0 };
    stats[name] = {
      invocations: before.invocations + source.stats.invocations,
      containers: before.containers + source.stats.coldStarts,
      records: before.records + source.stats.records,
    };
  }
  return stats;
}

/**
 * Publishes the scenario's events as the EventBridge rule would, each stamped with the moment it was
 * sent: a burst 10 a call as fast as SQS takes them, a trickle one by one on its schedule.
 */
async function publishScenario(local: LocalStack, scenario: Scenario): Promise<Map<string, number>> {
  const queueUrl = local.sqs.urls.OnboardingQueue as string;
  const publishedAt = new Map<string, number>();
  const ids = scenario.accountIds;
  if (scenario.intervalMs === 0) {
    for (let start = 0; start < ids.length; start += 10) {
      const part = ids.slice(start, start + 10);
      const at = Date.now();
      const answer = await local.sqs.client.send(
        new SendMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: part.map((id, index) => ({ Id: String(index), MessageBody: accountCreatedEvent(id) })),
        }),
      );
      if (answer.Failed?.length) throw new Error(`publishing failed: ${JSON.stringify(answer.Failed)}`);
      for (const id of part) publishedAt.set(id, at);
    }
    return publishedAt;
  }
  const origin = Date.now();
  for (const [index, id] of ids.entries()) {
    const wait = origin + arrivalOffsetMs(scenario, index) - Date.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    publishedAt.set(id, Date.now());
    await local.sqs.client.send(
      new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: accountCreatedEvent(id) }),
    );
  }
  return publishedAt;
}
