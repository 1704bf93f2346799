import type { Logger } from "@aws-lambda-powertools/logger";
import { MemberAcceptance } from "./acceptance.ts";
import { AccountDirectory, type AccountLookup } from "./accounts.ts";
import type { Clients } from "./clients.ts";
import { mapWithConcurrency } from "./concurrency.ts";
import type { Config } from "./config.ts";
import { dispatch } from "./dispatch.ts";
import { InvalidMessageError } from "./errors.ts";
import { type MemberAccount, RegionMembers, type RegionOutcome } from "./members.ts";
import { type OnboardingRequest, parseMessage } from "./message.ts";
import type { PipelineMetrics } from "./metrics.ts";
import { deadLetterInvalid, exhaust, type Outbound, routeOutcomes } from "./routing.ts";

/** The slice of an SQS record the pipeline reads (Lambda's `SQSRecord` fits). */
export interface SourceRecord {
  readonly messageId: string;
  readonly body: string;
}

/** Lambda's partial batch response (`ReportBatchItemFailures`). */
export interface BatchResult {
  batchItemFailures: { itemIdentifier: string }[];
}

/** The slice of Powertools' Logger the pipeline uses. */
export type Log = Pick<Logger, "info" | "warn" | "error">;

export interface Onboarding {
  readonly config: Config;
  readonly accounts: AccountDirectory;
  readonly members: ReadonlyMap<string, RegionMembers>;
  /** The member-side step (invitation mode); absent when members accept by themselves. */
  readonly acceptance?: MemberAcceptance;
  /** Sends routed messages; answers the source ids whose sends were not confirmed, with why. */
  readonly send: (outbound: readonly Outbound[]) => Promise<Map<string, string>>;
  readonly logger: Log;
  /** Outcome counts, published at the end of each batch. */
  readonly metrics?: PipelineMetrics;
  readonly now?: () => Date;
  readonly random?: () => number;
}

/** Wires the pipeline to real clients: one account directory and one `RegionMembers` per configured region. */
export function createOnboarding(
  config: Config,
  clients: Clients,
  logger: Log,
  metrics?: PipelineMetrics,
): Onboarding {
  const urls = { retry: config.retryQueueUrl, "dead-letter": config.deadLetterQueueUrl };
  return {
    config,
    logger,
    metrics,
    accounts: new AccountDirectory(clients.organizations),
    members: new Map(
      config.regions.map((region) => [region, new RegionMembers(clients.guardduty(region), config)]),
    ),
    acceptance:
      config.acceptance && config.administratorAccountId
        ? new MemberAcceptance(clients.sts, clients.memberGuardDuty, {
            ...config.acceptance,
            administratorAccountId: config.administratorAccountId,
            regions: config.regions,
          })
        : undefined,
    send: (outbound) => dispatch(clients.sqs, urls, outbound),
  };
}

/** Member accounts entered at once by the member-side step (each is one AssumeRole + a few calls per region). */
const ACCEPTANCE_CONCURRENCY = 4;

/**
 * An abort signal for the AWS calls of one invocation that fires `reserveMs` before the deadline, so
 * that the routing sends still fit: a batch ends cleanly, with its accounts retried, before Lambda kills it.
 */
export function deadlineSignal(remainingMs: number, reserveMs: number): AbortSignal {
  return AbortSignal.timeout(Math.max(1, remainingMs - reserveMs));
}

interface Work {
  readonly record: SourceRecord;
  readonly request: OnboardingRequest;
  readonly regions: readonly string[];
}

/**
 * Onboards one SQS batch. Every account of the batch is looked up once, then each region gets one
 * coalesced pass (≤ 50 accounts per GuardDuty call); each (account, region) ends terminal, or routed to
 * the retry or dead-letter queue. A record is reported as a batch item failure only when a send that
 * would make its outcome durable was not confirmed, so nothing is deleted before it is safe.
 */
export async function onboardBatch(
  records: readonly SourceRecord[],
  deps: Onboarding,
  signal?: AbortSignal,
): Promise<BatchResult> {
  const { config, logger } = deps;
  const at = (deps.now?.() ?? new Date()).toISOString();
  const outbound: Outbound[] = [];
  const work: Work[] = [];

  for (const record of records) {
    const item = admit(record, deps, at, outbound);
    if (item) work.push(item);
  }

  const lookups = await deps.accounts.lookup(
    work.map(({ request }) => request.accountId),
    signal,
  );
  const results = await onboardRegions(work, lookups, deps, signal);
  const outcomes = work.map(({ request, regions }) => {
    const byRegion = new Map<string, RegionOutcome>();
    for (const region of regions) byRegion.set(region, outcomeFor(request, region, lookups, results));
    return byRegion;
  });
  await acceptInvitations(work, outcomes, deps, signal);

  for (const [index, { record, request }] of work.entries()) {
    const byRegion = outcomes[index] as Map<string, RegionOutcome>;
    for (const [region, decided] of byRegion) {
      if (decided.reason === "email-missing") deps.accounts.forget(request.accountId);
      // The line says where the account really goes: a retry past the last attempt is a dead letter.
      const outcome = exhaust(request, decided, config.maxAttempts);
      deps.metrics?.outcome(outcome.outcome, outcome.reason, request.attempt);
      const level =
        outcome.outcome === "dead-letter" ? "error" : outcome.outcome === "retry" ? "warn" : "info";
      logger[level]("account outcome", {
        accountId: request.accountId,
        region,
        outcome: outcome.outcome,
        reason: outcome.reason,
        detail: outcome.detail,
        step: outcome.step,
        attempt: request.attempt,
        origin: request.origin,
        messageId: record.messageId,
        correlationId: request.correlationId,
      });
    }
    outbound.push(
      ...routeOutcomes(record.messageId, request, byRegion, { ...config, random: deps.random }, at),
    );
  }

  const failed = await deps.send(outbound);
  deps.metrics?.publish();
  for (const [messageId, detail] of failed) {
    logger.error("outcome not durable; the message stays on its queue for redelivery", { messageId, detail });
  }
  return { batchItemFailures: [...failed.keys()].map((itemIdentifier) => ({ itemIdentifier })) };
}

/** Parses one record; anything it cannot onboard is logged and, if invalid, dead-lettered verbatim. */
function admit(record: SourceRecord, deps: Onboarding, at: string, outbound: Outbound[]): Work | undefined {
  const { config, logger } = deps;
  const { messageId } = record;
  let parsed: ReturnType<typeof parseMessage>;
  try {
    parsed = parseMessage(record.body);
  } catch (error) {
    if (!(error instanceof InvalidMessageError)) throw error;
    deps.metrics?.outcome("dead-letter", "invalid-message", 0);
    logger.error("invalid message dead-lettered", {
      messageId,
      outcome: "dead-letter",
      reason: "invalid-message",
      detail: error.message,
    });
    outbound.push(deadLetterInvalid(messageId, error.raw ?? record.body, error.message, at));
    return undefined;
  }
  if (parsed.kind === "not-created") {
    deps.metrics?.outcome("skipped", "account-not-created", 0);
    logger.info("account was not created; nothing to onboard", {
      messageId,
      outcome: "skipped",
      reason: "account-not-created",
      state: parsed.state,
      correlationId: parsed.correlationId,
    });
    return undefined;
  }
  const { request } = parsed;
  const context = {
    messageId,
    accountId: request.accountId,
    attempt: request.attempt,
    correlationId: request.correlationId,
  };
  if (request.accountId === config.administratorAccountId) {
    deps.metrics?.outcome("skipped", "administrator-account", request.attempt);
    logger.info("the administrator account is not its own member", {
      ...context,
      outcome: "skipped",
      reason: "administrator-account",
    });
    return undefined;
  }
  const regions = request.regions
    ? config.regions.filter((region) => request.regions?.includes(region))
    : config.regions;
  const ignored = request.regions?.filter((region) => !config.regions.includes(region)) ?? [];
  if (ignored.length > 0 || regions.length === 0) {
    logger.warn("requested regions not managed by this stage", {
      ...context,
      outcome: "skipped",
      reason: "region-not-configured",
      ignored,
    });
  }
  return regions.length > 0 ? { record, request, regions } : undefined;
}

/** One coalesced pass per region over every onboardable account of the batch, regions in parallel. */
async function onboardRegions(
  work: readonly Work[],
  lookups: ReadonlyMap<string, AccountLookup>,
  deps: Onboarding,
  signal?: AbortSignal,
): Promise<Map<string, Map<string, RegionOutcome>>> {
  const results = new Map<string, Map<string, RegionOutcome>>();
  await Promise.all(
    [...deps.members].map(async ([region, members]) => {
      const accounts = new Map<string, MemberAccount>();
      for (const { request, regions } of work) {
        const lookup = lookups.get(request.accountId);
        if (
          request.step === "accept" ||
          !regions.includes(region) ||
          !lookup?.found ||
          !lookup.account.active ||
          !lookup.account.email
        )
          continue;
        accounts.set(request.accountId, { accountId: request.accountId, email: lookup.account.email });
      }
      if (accounts.size > 0) results.set(region, await members.onboard([...accounts.values()], signal));
    }),
  );
  return results;
}

/** The outcome of one (account, region), from the account lookup first, then GuardDuty's answer. */
function outcomeFor(
  request: OnboardingRequest,
  region: string,
  lookups: ReadonlyMap<string, AccountLookup>,
  results: ReadonlyMap<string, ReadonlyMap<string, RegionOutcome>>,
): RegionOutcome {
  const { accountId } = request;
  const lookup = lookups.get(accountId);
  if (!lookup) {
    return { outcome: "retry", reason: "service-unavailable", detail: "account lookup gave no answer" };
  }
  if (!lookup.found) {
    return { outcome: lookup.decision.verdict, reason: lookup.decision.reason, detail: lookup.detail };
  }
  if (!lookup.account.active) {
    return { outcome: "skipped", reason: "account-not-active", detail: "the account is suspended or closed" };
  }
  // A request resuming at the member side: the administrator's invitation went out on an earlier attempt.
  if (request.step === "accept") return { outcome: "invited", memberStatus: "Invited" };
  if (!lookup.account.email) {
    return {
      outcome: "retry",
      reason: "email-missing",
      detail: "Organizations returned no e-mail for the account",
    };
  }
  return (
    results.get(region)?.get(accountId) ?? {
      outcome: "retry",
      reason: "service-unavailable",
      detail: "no GuardDuty answer for this account",
    }
  );
}

/**
 * The member-side step for every (account, region) the administrator side left Invited: each account is
 * entered once, for all its regions, a few accounts at a time; its outcomes replace the invitation's.
 */
async function acceptInvitations(
  work: readonly Work[],
  outcomes: readonly Map<string, RegionOutcome>[],
  deps: Onboarding,
  signal?: AbortSignal,
): Promise<void> {
  const { acceptance } = deps;
  if (!acceptance) return;
  const pending = new Map<string, Set<string>>();
  for (const [index, { request }] of work.entries()) {
    for (const [region, outcome] of outcomes[index] ?? []) {
      const invited = outcome.outcome === "invited" || outcome.outcome === "already";
      if (!invited || outcome.memberStatus === "Enabled") continue;
      pending.set(request.accountId, (pending.get(request.accountId) ?? new Set()).add(region));
    }
  }
  const accepted = new Map<string, Map<string, RegionOutcome>>();
  await mapWithConcurrency([...pending], ACCEPTANCE_CONCURRENCY, async ([accountId, regions]) => {
    accepted.set(accountId, await acceptance.accept(accountId, [...regions], signal));
  });
  for (const [index, { request }] of work.entries()) {
    const byRegion = outcomes[index] as Map<string, RegionOutcome>;
    for (const [region, outcome] of accepted.get(request.accountId) ?? []) {
      if (byRegion.has(region)) byRegion.set(region, outcome);
    }
  }
}
