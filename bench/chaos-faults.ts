/**
 * The faults of a chaos run: the sandbox's (sandbox/faults.ts) plus the event source's crashes and lost
 * deletes, and the default set `npm run chaos` injects — every fault at once, at rates a bad day brings.
 */
import type { FaultOptions } from "../sandbox/faults.ts";
import { THROTTLED_GUARDDUTY_OPERATIONS } from "./profile.ts";

export type ChaosFaults = FaultOptions & {
  /** Share of invocations whose container crashes at a random point of its first 500 ms. */
  readonly crashRate?: number;
  /** Share of processed records whose delete is lost, so SQS delivers them again. */
  readonly duplicateRate?: number;
};

/** What `npm run chaos` injects unless `--faults` says otherwise. */
export const DEFAULT_CHAOS_FAULTS: ChaosFaults = {
  latencyMs: { min: 5, max: 40 },
  latencySpike: { rate: 0.02, ms: 1_500 },
  guardDutyThrottle: { ratePerSecond: 5, burst: 5, operations: THROTTLED_GUARDDUTY_OPERATIONS },
  organizationsThrottle: { ratePerSecond: 5, burst: 10 },
  serverErrorRate: 0.05,
  serverErrorAfterCommitRate: 0.03,
  internalErrorRate: 0.05,
  crashRate: 0.2,
  duplicateRate: 0.05,
};
