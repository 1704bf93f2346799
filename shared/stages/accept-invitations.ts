import type { MemberAcceptance } from "../acceptance.ts";
import { mapWithConcurrency } from "../concurrency.ts";
import type { CellOutcome } from "../outcomes.ts";
import { decide, type Plan, pairOf, pending, type Stage } from "../plan.ts";

/**
 * The member side: every member account of the batch entered once for all its regions, many accounts at
 * a time. Each member has its own GuardDuty quotas and its own session, so what bounds this is the
 * administrator's STS rate and the function's concurrency (README, "What it does, precisely").
 */
export function acceptInvitations(acceptance: MemberAcceptance, concurrency: number): Stage {
  return async (plan: Plan, signal?: AbortSignal): Promise<Plan> => {
    const regionsOf = new Map<string, Set<string>>();
    for (const cell of pending(plan)) {
      const { accountId } = cell.request;
      regionsOf.set(accountId, (regionsOf.get(accountId) ?? new Set()).add(cell.region));
    }
    const answers = new Map<string, CellOutcome>();
    await mapWithConcurrency([...regionsOf], concurrency, async ([accountId, regions]) => {
      for (const [region, outcome] of await acceptance.accept(accountId, [...regions], signal)) {
        answers.set(`${accountId}/${region}`, outcome);
      }
    });
    return decide(
      plan,
      (cell) =>
        answers.get(pairOf(cell)) ?? {
          outcome: "retry",
          reason: "service-unavailable",
          detail: "the member side gave no answer",
          step: "accept",
        },
    );
  };
}
