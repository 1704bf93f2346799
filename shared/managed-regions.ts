import type { Clients } from "./clients.ts";
import { mapWithConcurrency } from "./concurrency.ts";
import { findDetector } from "./guardduty.ts";
import partitions from "./guardduty-regions.json" with { type: "json" };
import { describeError } from "./privacy.ts";
import { enabledRegions } from "./regions.ts";
import type { Log } from "./report.ts";

/**
 * The regions a run manages. A configured list is taken as it is, with no call. `all` (stage parameter
 * `regions: all`) means the regions where the administrator has GuardDuty enabled, discovered: the
 * regions its own account can use (account:ListRegions without AccountId, `ENABLED` or
 * `ENABLED_BY_DEFAULT`, every page) among the partition's GuardDuty regions, in which ListDetectors
 * finds its detector. So a region where the administrator enables GuardDuty later is managed from the
 * next discovery on, without a redeploy.
 *
 * The partition's GuardDuty regions are kept once, in `guardduty-regions.json` (botocore
 * `endpoints.json`, service `guardduty`): serverless.yml reads the same file into its `GuardDutyRegions`
 * mapping, the `aws:RequestedRegion` condition of every role under `all`. A region outside it is
 * reported as `unlisted`, never called: the policy would deny it anyway.
 */

/** `GUARDDUTY_REGIONS=all` (stage parameter `regions: all`). */
export const ALL_REGIONS = "all";
/** The stage's regions as configured: a list, or {@link ALL_REGIONS}, turned into a run's regions here. */
export type RegionsSetting = readonly string[] | typeof ALL_REGIONS;

/**
 * How long the onboard function's containers keep a discovery: one ListRegions and one ListDetectors
 * per enabled region every 15 minutes at most (the delegation check's TTL, `members.ts`). The
 * reconcile discovers on every run.
 */
export const DISCOVERY_TTL_MS = 15 * 60_000;
/** ListDetectors in flight at once: one call per region, each to its own regional endpoint. */
const REGION_CONCURRENCY = 8;

/** What one resolution of the regions found. */
export interface ManagedRegionsReport {
  /**
   * The regions of this run: the configured ones, or those with the administrator's detector and those
   * whose answer failed (unknown is not "no detector": their own calls fail, and are retried, there).
   */
  readonly regions: readonly string[];
  /** Whether the regions were discovered (`all`) rather than configured. */
  readonly discovered: boolean;
  /** Candidate regions whose ListDetectors failed, with why; they are among `regions`. */
  readonly failed: Readonly<Record<string, string>>;
  /** Enabled regions without the administrator's detector: GuardDuty is not enabled there. */
  readonly withoutDetector: readonly string[];
  /** Enabled regions that answered UnrecognizedClientException or HTTP 403 (not enabled, or denied), with why. */
  readonly unreachable: Readonly<Record<string, string>>;
  /** Enabled regions that `guardduty-regions.json` does not list: neither the code nor the policy acts there. */
  readonly unlisted: readonly string[];
}

/** The partition of a region (ARNs, and which GuardDuty regions exist). */
export function partitionOf(region: string): string {
  if (region.startsWith("cn-")) return "aws-cn";
  if (region.startsWith("us-gov-")) return "aws-us-gov";
  return "aws";
}

/** The partition's GuardDuty regions (`guardduty-regions.json`); none for a partition it does not know. */
export function guardDutyRegions(partition: string): readonly string[] {
  return (partitions as Record<string, { regions: readonly string[] } | undefined>)[partition]?.regions ?? [];
}

/** A region the caller cannot use: not enabled for its account, or denied (GuardDuty, `classify.ts`). */
function unreachable(error: unknown): boolean {
  const { name, $metadata } = error as { name?: string; $metadata?: { httpStatusCode?: number } };
  return name === "UnrecognizedClientException" || $metadata?.httpStatusCode === 403;
}

/**
 * Discovers the administrator's GuardDuty regions now. A failed ListRegions throws (nothing is known);
 * a failed ListDetectors is reported in `failed` and the region kept.
 */
export async function discoverManagedRegions(
  clients: Pick<Clients, "account" | "guardduty">,
  partition: string,
  signal?: AbortSignal,
): Promise<ManagedRegionsReport> {
  const candidates = guardDutyRegions(partition);
  const enabled = [...(await enabledRegions(clients.account, undefined, signal))].sort();
  const inScope = enabled.filter((region) => candidates.includes(region));
  type Answer = { region: string; detector?: string; failure?: { error: unknown; detail: string } };
  const answers = await mapWithConcurrency(inScope, REGION_CONCURRENCY, async (region): Promise<Answer> => {
    try {
      return { region, detector: await findDetector(clients.guardduty(region), signal) };
    } catch (error) {
      return { region, failure: { error, detail: describeError(error) } };
    }
  });
  const failed: Record<string, string> = {};
  const unreachableRegions: Record<string, string> = {};
  const regions: string[] = [];
  const withoutDetector: string[] = [];
  for (const answer of answers) {
    const { failure } = answer;
    if (failure) {
      if (unreachable(failure.error)) unreachableRegions[answer.region] = failure.detail;
      else {
        failed[answer.region] = failure.detail;
        regions.push(answer.region);
      }
    } else if (answer.detector) regions.push(answer.region);
    else withoutDetector.push(answer.region);
  }
  return {
    regions,
    discovered: true,
    failed,
    withoutDetector,
    unreachable: unreachableRegions,
    unlisted: enabled.filter((region) => !candidates.includes(region)),
  };
}

/**
 * The regions a function that only acts on requests the onboard function made may act in (the accept
 * function): the configured list, or under `all` the partition's GuardDuty regions, with no call. The
 * onboard function already narrowed each request to the regions it manages.
 */
export function admissibleRegions(setting: RegionsSetting, partition: string): readonly string[] {
  return setting === ALL_REGIONS ? guardDutyRegions(partition) : setting;
}

/** The configured list as a report: no call. */
function configured(regions: readonly string[]): ManagedRegionsReport {
  return { regions, discovered: false, failed: {}, withoutDetector: [], unreachable: {}, unlisted: [] };
}

/** Resolves the regions of one run, discovering them afresh under `all` (the reconcile, the CLI). */
export function resolveManagedRegions(
  setting: RegionsSetting,
  clients: Pick<Clients, "account" | "guardduty">,
  partition: string,
  signal?: AbortSignal,
): Promise<ManagedRegionsReport> {
  if (setting !== ALL_REGIONS) return Promise.resolve(configured(setting));
  return discoverManagedRegions(clients, partition, signal);
}

/** A region a request names, and when the request was made (its `requestedAt`; unknown: now). */
export interface NamedRegion {
  readonly region: string;
  readonly requestedAt?: string;
}

export interface ManagedRegionsOptions {
  readonly partition: string;
  readonly ttlMs?: number;
  readonly now?: () => number;
  /** Told of every discovery actually made (not of cached answers), for its log line. */
  readonly onDiscovery?: (report: ManagedRegionsReport) => void;
}

/**
 * The regions of a container (the onboard function): the configured list, or a discovery kept for
 * `DISCOVERY_TTL_MS`. Only a discovery in which every region answered is kept, so a failed region is
 * asked again on the next batch; so is one whose requests name a GuardDuty region the discovery does
 * not manage and were made after it (the reconcile's repairs in a region enabled since: they are not
 * skipped for the rest of the TTL; each such request costs one discovery at most). When ListRegions itself fails, the last discovery still serves; with none, the error
 * reaches the batch (SQS redelivers it).
 */
export class ManagedRegions {
  readonly #setting: RegionsSetting;
  readonly #clients: Pick<Clients, "account" | "guardduty">;
  readonly #options: ManagedRegionsOptions;
  #last: ManagedRegionsReport | undefined;
  /** Until when (epoch ms) the last discovery holds, and when it was made. */
  #until = 0;
  #at = 0;

  constructor(
    setting: RegionsSetting,
    clients: Pick<Clients, "account" | "guardduty">,
    options: ManagedRegionsOptions,
  ) {
    this.#setting = setting;
    this.#clients = clients;
    this.#options = options;
  }

  /** The regions of a batch; `named`: the regions its requests name, and when each request was made. */
  async resolve(signal?: AbortSignal, named: Iterable<NamedRegion> = []): Promise<ManagedRegionsReport> {
    if (this.#setting !== ALL_REGIONS) return configured(this.#setting);
    const now = this.#options.now ?? Date.now;
    if (this.#last && now() < this.#until && !this.#newerNews(named)) return this.#last;
    let report: ManagedRegionsReport;
    try {
      report = await discoverManagedRegions(this.#clients, this.#options.partition, signal);
    } catch (error) {
      if (this.#last) return this.#last;
      throw error;
    }
    this.#options.onDiscovery?.(report);
    this.#last = report;
    this.#at = now();
    this.#until =
      Object.keys(report.failed).length === 0 ? now() + (this.#options.ttlMs ?? DISCOVERY_TTL_MS) : 0;
    return report;
  }

  /** Whether a request made after the kept discovery names a GuardDuty region it does not manage. */
  #newerNews(named: Iterable<NamedRegion>): boolean {
    const candidates = guardDutyRegions(this.#options.partition);
    const managed = this.#last?.regions ?? [];
    for (const { region, requestedAt } of named)
      if (
        candidates.includes(region) &&
        !managed.includes(region) &&
        !(Date.parse(requestedAt ?? "") <= this.#at)
      )
        return true;
    return false;
  }
}

/** One line per discovery (`regions: all`), and one error per region whose answer failed. */
export function reportDiscovery(report: ManagedRegionsReport, logger: Log): void {
  logger.info("managed regions discovered", {
    regions: report.regions,
    withoutDetector: report.withoutDetector,
    unreachable: Object.keys(report.unreachable),
    unlisted: report.unlisted,
  });
  for (const [region, detail] of Object.entries(report.failed))
    logger.error("GuardDuty could not be asked for the administrator's detector; the region stays managed", {
      region,
      detail,
    });
  if (report.unlisted.length > 0)
    logger.warn("enabled regions unknown to shared/guardduty-regions.json are not managed: add them there", {
      regions: report.unlisted,
    });
}
