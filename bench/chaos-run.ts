/**
 * A chaos run: new accounts, a few that GuardDuty or Organizations must refuse, and malformed bodies,
 * all through the local stack while the sandbox throttles, fails with 5xx (before and after applying a
 * call), holds calls past the SDK timeout and answers "Internal error" for some accounts, and the event
 * source crashes containers mid-batch and loses deletes (duplicate deliveries). Everything random draws
 * from the seed. Afterwards the invariants are checked against what the services and queues hold.
 */
import { appendFileSync } from "node:fs";
import { pairVerdict } from "#shared/coverage";
import { profileOf } from "#shared/protection";
import { accountCreatedEvent, newAccountIds, publish } from "../local/inputs.ts";
import { startLocalStack } from "../local/local-stack.ts";
import { peekDeadLetters } from "../local/summary.ts";
import { deriveRandom } from "../sandbox/random.ts";
import type { Sandbox } from "../sandbox/server.ts";
import type { ChaosFaults } from "./chaos-faults.ts";
import { checkInvariants, type InvariantResult } from "./invariants.ts";
import { malformedBodies } from "./malformed.ts";

export interface ChaosOptions {
  readonly accounts: number;
  readonly regions: readonly string[];
  readonly seed: number;
  readonly faults: ChaosFaults;
  /** Malformed bodies mixed in (default 5). */
  readonly malformed?: number;
  /** Invocations (numbered from 0, per event source) whose container dies right after an invitation went out. */
  readonly crashAfterInvitation?: readonly number[];
  /** Visibility timeout of the source queues: how soon a crashed or duplicated batch reappears. */
  readonly visibilityTimeoutSeconds: number;
  /** The function's `SDK_REQUEST_TIMEOUT_MS`, below the latency spikes. */
  readonly sdkRequestTimeoutMs: number;
  /** Event-source batching window over serverless.yml's (tests use 1 s). */
  readonly batchingWindowSeconds?: number;
  /** First retry delay over the local stage's 1 s (a test may use 0: retries come back at once). */
  readonly retryBaseDelaySeconds?: number;
  /**
   * Check that every (account, region) ends Enabled or dead-lettered (the member side runs, as deployed:
   * `acceptInvitations` on). `npm run chaos` does; off, only Invited-or-Enabled is required.
   */
  readonly requireEnabled?: boolean;
  /**
   * The stage's `membershipMode` (default serverless.yml's, invitation). In organization mode the stack's
   * account is the delegated administrator everywhere: CreateMembers alone enables, no member side.
   */
  readonly membershipMode?: "invitation" | "organization";
  /** Where to append every line the functions log (to follow one account through a breach). */
  readonly logFile?: string;
  readonly timeoutMs: number;
}

export interface ChaosReport extends InvariantResult {
  readonly seed: number;
  readonly accounts: number;
  readonly regions: readonly string[];
  readonly faults: ChaosFaults;
  readonly settings: Readonly<Record<string, string | number>>;
  readonly wallTimeMs: number;
  /** What was injected and absorbed. */
  readonly injected: {
    readonly throttled: number;
    readonly serverErrors: number;
    readonly internalErrors: number;
    readonly crashes: number;
    readonly lostDeletes: number;
    readonly invocations: number;
    readonly timeouts: number;
  };
  readonly statuses: Readonly<Record<string, number>>;
  readonly outcomes: Readonly<Record<string, number>>;
  readonly deadLettersByReason: Readonly<Record<string, number>>;
  /** One dead letter per reason: where and why, as the function wrote it. */
  readonly deadLetterExamples: Readonly<Record<string, string>>;
  /** Warnings of the SDK that a request outlived its requestTimeout without being aborted. */
  readonly sdkTimeoutWarnings: number;
  /**
   * Pairs that ended neither Enabled nor dead-lettered, by the last outcome the functions logged for them
   * (`function: outcome/reason`): where the member side lost them.
   */
  readonly notEnabledByLastOutcome: Readonly<Record<string, number>>;
}

export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const random = deriveRandom(options.seed, "chaos");
  const ids = newAccountIds(options.accounts + 3, options.seed);
  const healthy = ids.slice(0, options.accounts);
  // Refused for good: members of another administrator, and an account outside the organization.
  const foreign = ids.slice(options.accounts, options.accounts + 2);
  const stranger = ids[options.accounts + 2] as string;
  const malformed = malformedBodies(options.malformed ?? 5);
  const bodies = shuffle(
    [...[...healthy, ...foreign, stranger].map((id) => accountCreatedEvent(id)), ...malformed],
    random,
  );

  const { crashRate, duplicateRate, ...sandboxFaults } = options.faults;
  const logs: Record<string, unknown>[] = [];
  let sdkTimeoutWarnings = 0;
  let sandbox: Sandbox | undefined;
  const local = await startLocalStack({
    regions: options.regions,
    sandbox: {
      seed: options.seed,
      accountCount: 20,
      accounts: [...healthy, ...foreign].map((id) => ({ id })),
      membersOfOtherAdministrator: foreign.map((accountId) => ({ accountId })),
      faults: sandboxFaults,
    },
    queueAttributes: { VisibilityTimeout: String(options.visibilityTimeoutSeconds) },
    params: {
      ...(options.retryBaseDelaySeconds !== undefined && {
        retryBaseDelaySeconds: String(options.retryBaseDelaySeconds),
      }),
      ...(options.membershipMode !== undefined && { membershipMode: options.membershipMode }),
    },
    functionEnvironment: { SDK_REQUEST_TIMEOUT_MS: String(options.sdkRequestTimeoutMs) },
    eventSourceSettings:
      options.batchingWindowSeconds === undefined
        ? undefined
        : { maximumBatchingWindowSeconds: options.batchingWindowSeconds },
    eventSourceFaults: {
      crashRate,
      duplicateRate,
      random: deriveRandom(options.seed, "event-source"),
      crashSignal: (invocation) =>
        options.crashAfterInvitation?.includes(invocation) && sandbox
          ? afterNextInvitation(sandbox)
          : undefined,
    },
    onLog: (line) => {
      if (options.logFile) appendFileSync(options.logFile, `${line}\n`);
      if (line.includes("requestTimeout")) sdkTimeoutWarnings++;
      try {
        logs.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        // Not a structured line (e.g. an SDK warning): counted above when it matters.
      }
    },
    onError: (message) => process.stderr.write(`${message}\n`),
  });
  sandbox = local.sandbox;
  const started = Date.now();
  try {
    await publish(local.sqs.client, local.sqs.urls.OnboardingQueue as string, bodies);
    let drained = true;
    try {
      await local.drained(options.timeoutMs);
    } catch {
      drained = false;
    }
    const wallTimeMs = Date.now() - started;
    const depths = await local.depths();
    const deadLetters = await peekDeadLetters(local.sqs.client, local.sqs.urls.DeadLetterQueue as string);
    const accounts = [...healthy, ...foreign, stranger];
    const counters = local.sandbox.counters;
    // Every function's source queues: onboard's OnboardingQueue and RetryQueue, accept's AcceptQueue.
    const sourceQueues = Object.values(local.stack.functions).flatMap((fn) =>
      fn.eventSources.map(({ queue }) => queue),
    );
    const profile = profileOf(local.functionEnv.PROTECTION_PLANS);
    const result = checkInvariants({
      accounts,
      regions: options.regions,
      status: (accountId, region) => local.sandbox.status(accountId, region),
      invitations: (accountId, region) => counters.invitations(accountId, region),
      deadLetters,
      leftInSourceQueues: Object.fromEntries(
        sourceQueues.map((queue) => {
          const depth = depths[queue];
          return [queue, depth ? depth.visible + depth.inFlight + depth.delayed : 0];
        }),
      ),
      requireEnabled: options.requireEnabled,
      // Protection is the end state: Enabled with the stage's profile, read back from the sandbox.
      protection: (accountId, region) =>
        pairVerdict(
          local.sandbox.status(accountId, region),
          local.sandbox.features(accountId, region),
          profile,
          region,
        ),
      drained,
      malformed,
      logs,
    });
    const stats = local.eventSources.map((source) => source.stats);
    const sum = (key: keyof (typeof stats)[number]) => stats.reduce((total, s) => total + s[key], 0);
    return {
      seed: options.seed,
      accounts: accounts.length,
      regions: options.regions,
      faults: options.faults,
      settings: {
        visibilityTimeoutSeconds: options.visibilityTimeoutSeconds,
        sdkRequestTimeoutMs: options.sdkRequestTimeoutMs,
        membershipMode: local.functionEnv.MEMBERSHIP_MODE ?? "",
        acceptInvitations: local.functionEnv.ACCEPT_INVITATIONS ?? "",
        maxAttempts: local.functionEnv.MAX_ATTEMPTS ?? "",
        retryBaseDelaySeconds: local.functionEnv.RETRY_BASE_DELAY_SECONDS ?? "",
        batchingWindowSeconds:
          options.batchingWindowSeconds ?? local.stack.eventSources[0]?.maximumBatchingWindowSeconds ?? "",
        malformed: malformed.length,
        refusedAccounts: foreign.length + 1,
      },
      wallTimeMs,
      injected: {
        throttled: counters.throttled(),
        serverErrors: counters.serverErrors(),
        internalErrors: counters.internalErrors(),
        crashes: sum("crashes"),
        lostDeletes: sum("lostDeletes"),
        invocations: sum("invocations"),
        timeouts: sum("timeouts"),
      },
      statuses: tally(
        accounts.flatMap((id) => options.regions.map((r) => local.sandbox.status(id, r) ?? "none")),
      ),
      outcomes: tally(logs.map((line) => line.outcome).filter((o): o is string => typeof o === "string")),
      deadLettersByReason: tally(deadLetters.map((letter) => letter.reason)),
      deadLetterExamples: Object.fromEntries(
        deadLetters
          .reverse()
          .map((letter) => [
            letter.reason,
            `${letter.accountId ?? ""} ${letter.region ?? ""} ${(letter.detail ?? "").slice(0, 200)}`.trim(),
          ]),
      ),
      sdkTimeoutWarnings,
      notEnabledByLastOutcome: lastOutcomes(
        logs,
        accounts.flatMap((id) =>
          options.regions
            .filter((region) => {
              const status = local.sandbox.status(id, region);
              return status !== "Enabled" && status !== undefined;
            })
            .map((region) => ({ id, region })),
        ),
        new Set(deadLetters.map((letter) => `${letter.accountId}/${letter.region}`)),
      ),
      ...result,
    };
  } finally {
    await local.stop();
  }
}

/** The last logged outcome of each member pair not Enabled and not dead-lettered, tallied. */
function lastOutcomes(
  logs: readonly Record<string, unknown>[],
  pairs: readonly { id: string; region: string }[],
  deadLettered: ReadonlySet<string>,
): Record<string, number> {
  const last = new Map<string, string>();
  for (const line of logs) {
    if (typeof line.accountId !== "string" || typeof line.region !== "string" || !line.outcome) continue;
    const fn = String(line.function_name ?? "").replace(/^.*-/, "");
    last.set(
      `${line.accountId}/${line.region}`,
      `${fn}: ${line.outcome}${line.reason ? `/${line.reason}` : ""}`,
    );
  }
  return tally(
    pairs
      .filter(({ id, region }) => !deadLettered.has(`${id}/${region}`))
      .map(({ id, region }) => last.get(`${id}/${region}`) ?? "no outcome logged"),
  );
}

/** A signal that fires once the sandbox has sent one more invitation than it had when asked. */
function afterNextInvitation(sandbox: Sandbox): AbortSignal {
  const controller = new AbortController();
  const before = sandbox.counters.invitations();
  const timer = setInterval(() => {
    if (sandbox.counters.invitations() > before) controller.abort();
  }, 2);
  controller.signal.addEventListener("abort", () => clearInterval(timer));
  // An invocation that sends no invitation is not crashed; stop watching once it cannot be running.
  setTimeout(() => clearInterval(timer), 70_000).unref();
  return controller.signal;
}

function shuffle<T>(items: T[], random: () => number): T[] {
  for (let index = items.length - 1; index > 0; index--) {
    const other = Math.floor(random() * (index + 1));
    [items[index], items[other]] = [items[other] as T, items[index] as T];
  }
  return items;
}

function tally(values: readonly string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const value of values) counts[value] = (counts[value] ?? 0) + 1;
  return counts;
}
