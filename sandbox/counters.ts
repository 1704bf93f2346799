/**
 * Call and invitation counters.
 *
 * Tests and run summaries assert on what the pipeline actually did to the services: how many calls per
 * operation and region, how many invitations each account received (a member must not be spammed), and
 * how many faults were injected.
 */

/** key → region → count. */
export type Tally = Readonly<Record<string, Readonly<Record<string, number>>>>;

/** A plain-JSON copy of every counter. */
export interface CountersSnapshot {
  /** operation → region → calls received (throttled and failed calls included). */
  readonly calls: Tally;
  /** member account id → region → invitations sent (each InviteMembers success, re-invitations too). */
  readonly invitations: Tally;
  /** operation → region → calls answered with TooManyRequestsException. */
  readonly throttled: Tally;
  /** operation → region → calls answered with an injected 5xx. */
  readonly serverErrors: Tally;
  /** operation → region → accounts answered with an injected "Internal error" unprocessed result. */
  readonly internalErrors: Tally;
  /** operation → region → calls IAM denied (AccessDeniedException / AccessDenied). */
  readonly denied: Tally;
}

/** A two-level counter: key → region → count. */
class TwoLevelCounter {
  private readonly counts = new Map<string, Map<string, number>>();

  add(key: string, region: string, amount = 1): void {
    let byRegion = this.counts.get(key);
    if (byRegion === undefined) {
      byRegion = new Map();
      this.counts.set(key, byRegion);
    }
    byRegion.set(region, (byRegion.get(region) ?? 0) + amount);
  }

  /** The count for a key (all keys when omitted) in a region (all regions when omitted). */
  get(key?: string, region?: string): number {
    let total = 0;
    for (const [k, byRegion] of this.counts) {
      if (key !== undefined && k !== key) {
        continue;
      }
      for (const [r, count] of byRegion) {
        if (region === undefined || r === region) {
          total += count;
        }
      }
    }
    return total;
  }

  toJSON(): Tally {
    const out: Record<string, Record<string, number>> = {};
    for (const [key, byRegion] of [...this.counts].sort(([a], [b]) => a.localeCompare(b))) {
      out[key] = Object.fromEntries([...byRegion].sort(([a], [b]) => a.localeCompare(b)));
    }
    return out;
  }

  clear(): void {
    this.counts.clear();
  }
}

/** Everything the sandbox counts. Read with the query methods or `snapshot()`. */
export class Counters {
  private readonly callCounts = new TwoLevelCounter();
  private readonly invitationCounts = new TwoLevelCounter();
  private readonly throttleCounts = new TwoLevelCounter();
  private readonly serverErrorCounts = new TwoLevelCounter();
  private readonly internalErrorCounts = new TwoLevelCounter();
  private readonly deniedCounts = new TwoLevelCounter();

  /** Calls received for an operation (all when omitted), in a region (all when omitted). */
  calls(operation?: string, region?: string): number {
    return this.callCounts.get(operation, region);
  }

  /** Invitations sent to an account (all accounts when omitted), in a region (all when omitted). */
  invitations(accountId?: string, region?: string): number {
    return this.invitationCounts.get(accountId, region);
  }

  /** Calls throttled for an operation (all when omitted), in a region (all when omitted). */
  throttled(operation?: string, region?: string): number {
    return this.throttleCounts.get(operation, region);
  }

  /** Injected 5xx responses for an operation (all when omitted), in a region (all when omitted). */
  serverErrors(operation?: string, region?: string): number {
    return this.serverErrorCounts.get(operation, region);
  }

  /** Injected "Internal error" unprocessed results for an operation, in a region. */
  internalErrors(operation?: string, region?: string): number {
    return this.internalErrorCounts.get(operation, region);
  }

  /** Calls IAM denied for an operation (all when omitted), in a region (all when omitted). */
  denied(operation?: string, region?: string): number {
    return this.deniedCounts.get(operation, region);
  }

  snapshot(): CountersSnapshot {
    return {
      calls: this.callCounts.toJSON(),
      invitations: this.invitationCounts.toJSON(),
      throttled: this.throttleCounts.toJSON(),
      serverErrors: this.serverErrorCounts.toJSON(),
      internalErrors: this.internalErrorCounts.toJSON(),
      denied: this.deniedCounts.toJSON(),
    };
  }

  /** Zeroes every counter (e.g. between the arrange and act phases of a test). */
  reset(): void {
    for (const counter of [
      this.callCounts,
      this.invitationCounts,
      this.throttleCounts,
      this.serverErrorCounts,
      this.internalErrorCounts,
      this.deniedCounts,
    ]) {
      counter.clear();
    }
  }

  /** @internal Recording side, used by the server and the services. */
  recordCall(operation: string, region: string): void {
    this.callCounts.add(operation, region);
  }

  /** @internal */
  recordInvitation(accountId: string, region: string): void {
    this.invitationCounts.add(accountId, region);
  }

  /** @internal */
  recordThrottle(operation: string, region: string): void {
    this.throttleCounts.add(operation, region);
  }

  /** @internal */
  recordServerError(operation: string, region: string): void {
    this.serverErrorCounts.add(operation, region);
  }

  /** @internal */
  recordInternalError(operation: string, region: string): void {
    this.internalErrorCounts.add(operation, region);
  }

  /** @internal */
  recordDenial(operation: string, region: string): void {
    this.deniedCounts.add(operation, region);
  }
}
