/**
 * Fault injection: latency, throttling, server errors and "Internal error" unprocessed results.
 *
 * The onboarding pipeline must survive what the real services do under load, so the sandbox can make
 * them happen on demand, reproducibly (every roll draws from the seeded stream) and observably (the
 * counters record each injected fault).
 */
import { deriveRandom, type Random } from "./random.ts";

/** A token bucket: `burst` calls at once, refilled at `ratePerSecond`. */
export interface RateLimit {
  /** Sustained calls per second. */
  readonly ratePerSecond: number;
  /** Bucket size: calls allowed in a burst from a full bucket. */
  readonly burst: number;
}

/** GuardDuty throttling: one bucket per (operation, region), like the service's per-API regional quotas. */
export interface GuardDutyRateLimit extends RateLimit {
  /** Operations to throttle (e.g. `["CreateMembers", "InviteMembers"]`); all operations when omitted. */
  readonly operations?: readonly string[];
}

/** A delay in ms; a range draws a seeded value per call. */
export type Latency = number | { readonly min: number; readonly max: number };

/** What can go wrong, and how often. All rates are probabilities in [0, 1]. */
export interface FaultOptions {
  /** Delay before every response, in ms; a range draws a seeded value per call. */
  readonly latencyMs?: Latency;
  /**
   * Delay per service, in place of `latencyMs` for that service's calls: Organizations (global, one
   * endpoint) answers more slowly than regional GuardDuty, and a benchmark profile says by how much.
   */
  readonly serviceLatencyMs?: Readonly<Partial<Record<"guardduty" | "organizations", Latency>>>;
  /**
   * A share of calls held `ms` longer, on top of the latency: set it past the client's request timeout
   * and the client gives up while the sandbox still applies the call (a lost answer, seen late).
   */
  readonly latencySpike?: { readonly rate: number; readonly ms: number };
  /** GuardDuty throttling → HTTP 429 `TooManyRequestsException`. */
  readonly guardDutyThrottle?: GuardDutyRateLimit;
  /** Organizations throttling, one global bucket → HTTP 400 `TooManyRequestsException`. */
  readonly organizationsThrottle?: RateLimit;
  /** Share of calls answered with a 5xx before touching state. */
  readonly serverErrorRate?: number;
  /**
   * Share of calls whose effect is applied but whose response is a 5xx anyway (a lost response):
   * the retry then meets "already a member", which is how idempotency gets tested.
   */
  readonly serverErrorAfterCommitRate?: number;
  /** Operations the two 5xx rates apply to; all operations when omitted. */
  readonly serverErrorOperations?: readonly string[];
  /** Share of accounts in CreateMembers/InviteMembers answered with an "Internal error" unprocessed result. */
  readonly internalErrorRate?: number;
}

/** What the sandbox should do with one call before running it. */
export type Admission = "proceed" | "throttle" | "server-error";

/** A token bucket on an injectable clock (ms), starting full. */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly limit: RateLimit,
    private readonly now: () => number,
  ) {
    this.tokens = limit.burst;
    this.last = now();
  }

  /** Takes one token; false when the bucket is empty (the call is throttled). */
  take(): boolean {
    const now = this.now();
    const elapsedSeconds = Math.max(0, now - this.last) / 1000;
    this.last = now;
    this.tokens = Math.min(this.limit.burst, this.tokens + elapsedSeconds * this.limit.ratePerSecond);
    if (this.tokens < 1) {
      return false;
    }
    this.tokens -= 1;
    return true;
  }
}

/** Decides, call by call, which faults to inject. Reconfigurable at runtime; buckets reset on change. */
export class FaultInjector {
  private options: FaultOptions;
  private readonly random: Random;
  private readonly buckets = new Map<string, TokenBucket>();

  constructor(
    seed: number,
    options: FaultOptions,
    private readonly now: () => number,
  ) {
    this.options = options;
    this.random = deriveRandom(seed, "faults");
  }

  /** Replaces the fault configuration (throttling buckets start full again). */
  configure(options: FaultOptions): void {
    this.options = options;
    this.buckets.clear();
  }

  /** The latency to apply to this call, in ms: the service's (or the common) latency, plus any spike. */
  latencyMs(service?: "guardduty" | "organizations"): number {
    const latency = (service && this.options.serviceLatencyMs?.[service]) ?? this.options.latencyMs;
    const spike = this.options.latencySpike;
    const spiked = spike !== undefined && spike.rate > 0 && this.random() < spike.rate ? spike.ms : 0;
    if (latency === undefined) {
      return spiked;
    }
    if (typeof latency === "number") {
      return latency + spiked;
    }
    return latency.min + this.random() * (latency.max - latency.min) + spiked;
  }

  /**
   * Throttling first (a throttled call never reaches the service), then the pre-commit 5xx roll.
   * GuardDuty's quotas are per account: a member's own calls draw on the member's bucket.
   */
  admit(service: "guardduty" | "organizations", operation: string, region: string, account = ""): Admission {
    if (this.throttled(service, operation, region, account)) {
      return "throttle";
    }
    return this.roll(this.options.serverErrorRate, operation) ? "server-error" : "proceed";
  }

  /** Whether to replace the response of an applied call with a 5xx. */
  loseResponse(operation: string): boolean {
    return this.roll(this.options.serverErrorAfterCommitRate, operation);
  }

  /** Whether this account's entry in a CreateMembers/InviteMembers call fails with "Internal error". */
  internalError(): boolean {
    const rate = this.options.internalErrorRate ?? 0;
    return rate > 0 && this.random() < rate;
  }

  private throttled(
    service: "guardduty" | "organizations",
    operation: string,
    region: string,
    account: string,
  ): boolean {
    if (service === "organizations") {
      const limit = this.options.organizationsThrottle;
      return limit !== undefined && !this.bucket("organizations", limit).take();
    }
    const limit = this.options.guardDutyThrottle;
    if (limit === undefined || (limit.operations !== undefined && !limit.operations.includes(operation))) {
      return false;
    }
    return !this.bucket(`guardduty/${account}/${operation}/${region}`, limit).take();
  }

  private bucket(key: string, limit: RateLimit): TokenBucket {
    let bucket = this.buckets.get(key);
    if (bucket === undefined) {
      bucket = new TokenBucket(limit, this.now);
      this.buckets.set(key, bucket);
    }
    return bucket;
  }

  private roll(rate: number | undefined, operation: string): boolean {
    if (rate === undefined || rate <= 0) {
      return false;
    }
    const only = this.options.serverErrorOperations;
    if (only !== undefined && !only.includes(operation)) {
      return false;
    }
    return this.random() < rate;
  }
}
