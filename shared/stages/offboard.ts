import type { RegionMembers } from "../members.ts";
import type { CellOutcome } from "../outcomes.ts";
import { type Cell, decide, type Plan, pairOf, pending, type Stage } from "../plan.ts";

/**
 * Offboarding, the stage right after admission: the cells of `"action":"offboard"` requests (a departed
 * or closed account, `lifecycle.ts`) are decided here and nowhere else — per region, in parallel, every
 * such account of the batch at once (`member-removal.ts`). With `offboardDepartedAccounts` off they are
 * skipped as `offboarding-disabled`. Organizations is not asked: the account has left it.
 */
export function offboard(members: ReadonlyMap<string, RegionMembers>, enabled: boolean): Stage {
  const offboarding = (cell: Cell) => cell.request.action === "offboard";
  return async (plan: Plan, signal?: AbortSignal): Promise<Plan> => {
    if (pending(plan, offboarding).length === 0) return plan;
    if (!enabled) {
      return decide(plan, (cell) =>
        offboarding(cell)
          ? {
              outcome: "skipped",
              reason: "offboarding-disabled",
              detail: "offboardDepartedAccounts is false: the member is left as it is",
            }
          : undefined,
      );
    }
    const answers = new Map<string, CellOutcome>();
    await Promise.all(
      [...members].map(async ([region, regionMembers]) => {
        const ids = new Set(
          pending(plan, (cell) => offboarding(cell) && cell.region === region).map(
            (cell) => cell.request.accountId,
          ),
        );
        if (ids.size === 0) return;
        for (const [accountId, outcome] of await regionMembers.offboard([...ids], signal))
          answers.set(`${accountId}/${region}`, outcome);
      }),
    );
    return decide(plan, (cell) =>
      offboarding(cell)
        ? (answers.get(pairOf(cell)) ?? {
            outcome: "retry",
            reason: "service-unavailable",
            detail: "no GuardDuty answer for this account",
          })
        : undefined,
    );
  };
}
