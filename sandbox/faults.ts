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

/** What can go wrong, and how often. All rates are probabilities in [0, 1]. */
export interface FaultOptions {
  /** Delay before every response, in ms; a range draws a seeded value per call. */
  readonly latencyMs?: number | { readonly min: number; readonly max: number };
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

  /** The latency to apply to this call, in ms. */
  latencyMs(): number {
    const latency = this.options.latencyMs;
    if (latency === undefined) {
      return 0;
    }
    if (typeof latency === "number") {
      return latency;
    }
    return latency.min + this.random() * (latency.max - latency.min);
  }

  /** Throttling first (a throttled call never reaches the service), then the pre-commit 5xx roll. */
  admit(service: "guardduty" | "organizations", operation: string, region: string): Admission {
    if (this.throttled(service, operation, region)) {
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

  private throttled(service: "guardduty" | "organizations", operation: string, region: string): boolean {
    if (service === "organizations") {
      const limit = this.options.organizationsThrottle;
      return limit !== undefined && !this.bucket("organizations", limit).take();
    }
    const limit = this.options.guardDutyThrottle;
    if (limit === undefined || (limit.operations !== undefined && !limit.operations.includes(operation))) {
      return false;
    }
    return !this.bucket(`guardduty/${operation}/${region}`, limit).take();
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
