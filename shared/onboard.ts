import { type BatchResult, complete } from "./batch.ts";
import type { Clients } from "./clients.ts";
import type { Config } from "./config.ts";
import { deadLetterRecorder } from "./dead-letter-index.ts";
import { AccountDirectory } from "./directory.ts";
import { DirectoryStore } from "./directory-store.ts";
import { dispatch } from "./dispatch.ts";
import { isTamperSignal } from "./lifecycle.ts";
import {
  ManagedRegions,
  type ManagedRegionsReport,
  type NamedRegion,
  reportDiscovery,
} from "./managed-regions.ts";
import { type OrganizationFinding, RegionProtection } from "./member-protection.ts";
import { RegionMembers } from "./members.ts";
import { parseMessage } from "./message.ts";
import type { PipelineMetrics } from "./metrics.ts";
import { type Plan, run, type SourceRecord } from "./plan.ts";
import { describeError } from "./privacy.ts";
import type { Log } from "./report.ts";
import type { Outbound } from "./routing.ts";
import { administratorSide } from "./stages/administrator-side.ts";
import { admit } from "./stages/admit.ts";
import { exhaustRetries } from "./stages/exhaust-retries.ts";
import { offboard } from "./stages/offboard.ts";
import { recreateMembers } from "./stages/recreate-members.ts";
import { resolveAccounts } from "./stages/resolve-accounts.ts";
import { verifyProtection } from "./stages/verify-protection.ts";

/**
 * The onboard function's pipeline, one SQS batch at a time, as stages over one plan of
 * (account × region) cells: admit the records, resolve the accounts in Organizations, delete the members
 * a `recreate` repairs, the administrator side (≤ 50 accounts a GuardDuty call, per region), the
 * protection plans of associated members verified (and applied), then report, route and send. Invited
 * members are handed to the member side's queue (the accept function), which sends them back here once
 * accepted; nothing here enters a member account.
 */

export interface Onboarding {
  readonly config: Config;
  readonly accounts: AccountDirectory;
  /** The regions of a batch: the configured list, or those discovered under `all` (`managed-regions.ts`). */
  readonly regions: (signal?: AbortSignal, named?: Iterable<NamedRegion>) => Promise<ManagedRegionsReport>;
  /** The administrator side of a region: one for the life of the container, so its detector is found once. */
  readonly members: (region: string) => RegionMembers;
  readonly protections: (region: string) => RegionProtection;
  /** Sends routed messages; answers the source ids whose sends were not confirmed, with why. */
  readonly send: (outbound: readonly Outbound[]) => Promise<Map<string, string>>;
  readonly logger: Log;
  /** Outcome counts, published at the end of each batch. */
  readonly metrics?: PipelineMetrics;
  readonly now?: () => Date;
  readonly random?: () => number;
}

/**
 * Wires the pipeline to real clients: one account directory, the stage's regions (a discovery is kept
 * `DISCOVERY_TTL_MS`), and one `RegionMembers` and `RegionProtection` per region, built when a batch
 * first needs the region.
 */
export function createOnboarding(
  config: Config,
  clients: Clients,
  logger: Log,
  metrics?: PipelineMetrics,
): Onboarding {
  const urls = {
    retry: config.retryQueueUrl,
    "dead-letter": config.deadLetterQueueUrl,
    accept: config.acceptQueueUrl ?? "",
    verify: config.retryQueueUrl,
  };
  const onDeadLettered = deadLetterRecorder(clients.dynamodb, config.deadLetterIndexTable, logger);
  const managed = new ManagedRegions(config.regions, clients, {
    partition: config.partition,
    onDiscovery: (report) => reportDiscovery(report, logger),
  });
  return {
    config,
    logger,
    metrics,
    accounts: new AccountDirectory(clients.organizations, {
      store: config.directoryTable ? new DirectoryStore(clients.dynamodb, config.directoryTable) : undefined,
      onError: (path, error) =>
        logger.warn(`account directory: the ${path} failed; Organizations answers one account at a time`, {
          detail: describeError(error),
        }),
    }),
    regions: (signal, named) => managed.resolve(signal, named),
    members: perRegion((region) => new RegionMembers(clients.guardduty(region), config)),
    protections: perRegion(
      (region) =>
        new RegionProtection(clients.guardduty(region), region, {
          protection: config.protection,
          mode: config.mode,
        }),
    ),
    send: (outbound) => dispatch(clients.sqs, urls, outbound, { onDeadLettered }),
  };
}

/** `build`, once per region. */
function perRegion<T>(build: (region: string) => T): (region: string) => T {
  const built = new Map<string, T>();
  return (region) => {
    const existing = built.get(region);
    if (existing !== undefined) return existing;
    const made = build(region);
    built.set(region, made);
    return made;
  };
}

/** The regions the batch's requests name (a retry's, a repair's); bodies that do not parse name none. */
function namedRegions(records: readonly SourceRecord[]): NamedRegion[] {
  const named: NamedRegion[] = [];
  for (const { body } of records) {
    try {
      const parsed = parseMessage(body);
      const requests =
        parsed.kind === "request" ? [parsed.request] : parsed.kind === "requests" ? parsed.requests : [];
      for (const { regions = [], requestedAt } of requests)
        for (const region of regions) named.push({ region, requestedAt });
    } catch {
      // admit() dead-letters it with the reason.
    }
  }
  return named;
}

/** Logs and counts where the organization's configuration contradicts the profile (organization mode). */
function organizationFindings(deps: Onboarding) {
  return (findings: readonly OrganizationFinding[]) => {
    for (const { region, finding } of findings)
      deps.logger.warn("organization configuration contradicts the protection profile", { region, finding });
    deps.metrics?.count("OrganizationConfigurationFindings", undefined, findings.length);
  };
}

/**
 * Tamper signals (`lifecycle.ts`): GuardDuty membership changed by someone other than this stack. Each
 * event is counted once (metric `TamperSignal`) and logged with the accounts it names; its requests are
 * onboarded like any other, which repairs the membership and verifies protection.
 */
function reportTamperSignals(plan: Plan, deps: Onboarding): void {
  const signals = new Map<string, { trigger?: string; correlationId?: string; accountIds: Set<string> }>();
  for (const { messageId, request } of plan.cells) {
    if (request.origin !== "event" || request.attempt > 0 || !isTamperSignal(request.trigger)) continue;
    const signal = signals.get(messageId) ?? {
      trigger: request.trigger,
      correlationId: request.correlationId,
      accountIds: new Set<string>(),
    };
    signal.accountIds.add(request.accountId);
    signals.set(messageId, signal);
  }
  for (const [messageId, { trigger, correlationId, accountIds }] of signals)
    deps.logger.warn("tamper signal: GuardDuty membership changed outside this stack; re-checking", {
      trigger,
      correlationId,
      messageId,
      accountIds: [...accountIds],
    });
  if (signals.size > 0) deps.metrics?.count("TamperSignal", undefined, signals.size);
}

/**
 * Onboards one SQS batch. A record is reported as a batch item failure only when a send that would make
 * its outcome durable was not confirmed, so nothing is deleted before it is safe.
 */
export async function onboardBatch(
  records: readonly SourceRecord[],
  deps: Onboarding,
  signal?: AbortSignal,
): Promise<BatchResult> {
  const { config } = deps;
  const at = (deps.now?.() ?? new Date()).toISOString();
  const { regions } = await deps.regions(signal, namedRegions(records));
  const admitted = admit(records, { ...config, regions });
  reportTamperSignals(admitted, deps);
  const members = new Map(regions.map((region) => [region, deps.members(region)]));
  const protections = new Map(regions.map((region) => [region, deps.protections(region)]));
  const plan = await run(
    admitted,
    [
      offboard(members, config.offboardDepartedAccounts),
      resolveAccounts(deps.accounts),
      recreateMembers(members),
      administratorSide(members),
      verifyProtection(protections, organizationFindings(deps), (region, detail) =>
        deps.logger.warn("organization configuration could not be read", { region, detail }),
      ),
      exhaustRetries(config.maxAttempts),
    ],
    signal,
  );
  return complete(
    plan,
    {
      logger: deps.logger,
      metrics: deps.metrics,
      send: deps.send,
      routing: {
        retryBaseDelaySeconds: config.retryBaseDelaySeconds,
        handOffAcceptance: config.acceptQueueUrl !== undefined,
        retryTo: "retry",
        random: deps.random,
      },
    },
    at,
  );
}
