import { type Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";

/**
 * The pipeline's CloudWatch metrics (EMF through Powertools Metrics). Every metric carries the
 * `service` dimension plus at most one of its own, so a dashboard or alarm names it exactly:
 * - `Outcome` by `outcome` (invited, enabled, protected, already, retry, dead-letter, skipped)
 * - `OrganizationConfigurationFindings`: where the organization's auto-enable contradicts the profile
 * - `DeadLettered` by `reason`, `Retried` by `attempt` (the attempt the retry will be)
 * - `ApiLatency` (ms) and `ApiThrottled` by `api` (`GuardDuty.CreateMembers`, `Organizations.ListAccounts`…)
 * - `DriftFound` (reconciliation: pairs not protected), no extra dimension;
 * - `Coverage` (reconciliation: protected pairs ÷ desired pairs, 0–1, unit None), overall and by
 *   `region`; `CoveragePairs` by `verdict` (shared/coverage.ts).
 * Counts are tallied during a batch and published once at its end: a few EMF lines per invocation,
 * not one per account.
 */
export type Dimension = readonly [name: string, value: string];

export class PipelineMetrics {
  readonly #metrics: Metrics;
  readonly #counts = new Map<string, { name: string; dimension?: Dimension; value: number }>();
  readonly #latencies = new Map<string, number[]>();
  readonly #gauges: { name: string; dimension?: Dimension; value: number }[] = [];

  constructor(metrics: Metrics) {
    this.#metrics = metrics;
  }

  count(name: string, dimension?: Dimension, value = 1): void {
    const key = `${name}\u0000${dimension?.join("\u0000") ?? ""}`;
    const entry = this.#counts.get(key) ?? { name, dimension, value: 0 };
    entry.value += value;
    this.#counts.set(key, entry);
  }

  /** A measured value (unit None), published as it is: a ratio, not a count to add up. */
  gauge(name: string, value: number, dimension?: Dimension): void {
    this.#gauges.push({ name, dimension, value });
  }

  /** One (account, region) outcome, with its reason and the request's attempt. */
  outcome(outcome: string, reason: string | undefined, attempt: number): void {
    this.count("Outcome", ["outcome", outcome]);
    if (outcome === "dead-letter") this.count("DeadLettered", ["reason", reason ?? "unknown"]);
    if (outcome === "retry") this.count("Retried", ["attempt", String(attempt + 1)]);
  }

  /** Observes one AWS call (its latency across SDK attempts), or one throttled attempt of it. */
  readonly observe = (api: string, milliseconds: number, throttled: boolean): void => {
    if (throttled) this.count("ApiThrottled", ["api", api]);
    else this.#latencies.set(api, [...(this.#latencies.get(api) ?? []), milliseconds]);
  };

  /** Publishes what was tallied, one EMF document per dimension value, and starts over. */
  publish(): void {
    for (const { name, dimension, value } of this.#counts.values()) {
      this.#publish(dimension, () => this.#metrics.addMetric(name, MetricUnit.Count, value));
    }
    for (const { name, dimension, value } of this.#gauges) {
      this.#publish(dimension, () => this.#metrics.addMetric(name, MetricUnit.NoUnit, value));
    }
    for (const [api, values] of this.#latencies) {
      this.#publish(["api", api], () => {
        for (const value of values) this.#metrics.addMetric("ApiLatency", MetricUnit.Milliseconds, value);
      });
    }
    this.#counts.clear();
    this.#gauges.length = 0;
    this.#latencies.clear();
  }

  #publish(dimension: Dimension | undefined, add: () => void): void {
    if (dimension) this.#metrics.addDimension(dimension[0], dimension[1]);
    add();
    // Publishing clears the stored metrics and the added (non-default) dimensions.
    this.#metrics.publishStoredMetrics();
  }
}
