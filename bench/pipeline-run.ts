/**
 * The project's pipeline under a benchmark profile: the local stack (SQS server, sandbox, Lambda's SQS
 * event source invoking the deployable bundle) with serverless.yml's event-source settings unchanged —
 * they are the product — and the stage's own `retryBaseDelaySeconds`, not the local 1 s shortcut.
 */
import { SendMessageBatchCommand, SendMessageCommand } from "@aws-sdk/client-sqs";
import { accountCreatedEvent } from "../local/inputs.ts";
import { type LocalStack, startLocalStack } from "../local/local-stack.ts";
import { readStack } from "../local/stack.ts";
import { OutcomeTally, peekDeadLetters } from "../local/summary.ts";
import { figuresOf, type RunFigures } from "./figures.ts";
import { invitationTimes } from "./invitations.ts";
import { type Profile, profileFaults } from "./profile.ts";
import { arrivalOffsetMs, organizationOf, type Scenario } from "./scenario.ts";

export interface PipelineOptions {
  readonly profile: Profile;
  /** Run the member-side acceptance step (`ACCEPT_INVITATIONS`); its calls are reported apart. */
  readonly acceptInvitations: boolean;
  /** Give up waiting for the queues to drain after this long (the run still reports what it saw). */
  readonly timeoutMs: number;
}

export interface PipelineFigures extends RunFigures {
  /** First event published → queues drained (includes the event source's final quiet checks). */
  readonly drainedMs: number;
  readonly drained: boolean;
  readonly invocations: number;
  readonly containers: number;
  readonly outcomes: Record<string, number>;
  readonly reasons: Record<string, number>;
  readonly deadLetters: number;
}

export async function runPipeline(scenario: Scenario, options: PipelineOptions): Promise<PipelineFigures> {
  const tally = new OutcomeTally();
  const stage = readStack().params;
  const local = await startLocalStack({
    regions: scenario.regions,
    sandbox: { ...organizationOf(scenario, options.profile), faults: profileFaults(options.profile) },
    params: { retryBaseDelaySeconds: stage.retryBaseDelaySeconds ?? "30" },
    functionEnvironment: { ACCEPT_INVITATIONS: String(options.acceptInvitations) },
    onLog: (line) => tally.add(line),
    onError: (message) => process.stderr.write(`${message}\n`),
  });
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
    const counters = local.sandbox.counters.snapshot();
    const containers = local.eventSources.reduce((sum, source) => sum + source.stats.coldStarts, 0);
    const invocations = local.eventSources.reduce((sum, source) => sum + source.stats.invocations, 0);
    const deadLetters = await peekDeadLetters(local.sqs.client, local.sqs.urls.DeadLetterQueue as string);
    const invitedAt = await invitationTimes(local.sandbox, scenario.accountIds, scenario.regions);
    return {
      ...figuresOf({
        accounts: scenario.accountIds,
        regions: scenario.regions,
        counters,
        publishedAt,
        invitedAt,
        administratorListDetectors: containers * scenario.regions.length,
      }),
      drainedMs,
      drained,
      invocations,
      containers,
      outcomes: tally.outcomes,
      reasons: tally.reasons,
      deadLetters: deadLetters.length,
    };
  } finally {
    await local.stop();
  }
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
