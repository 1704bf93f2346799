import type { RegionMembers } from "../members.ts";
import type { CellOutcome } from "../outcomes.ts";
import { type Cell, decide, type Plan, pairOf, pending, type Stage } from "../plan.ts";

/**
 * The repair of a member whose invitation e-mail failed verification (`"step":"recreate"`, README
 * "Coverage"), between resolving the accounts (its e-mail read again) and the administrator side (which
 * creates and invites it again): per region, in parallel, the batch's such members still
 * `EmailVerificationFailed` are deleted (`members.ts`, `member-removal.ts`). A cell is decided here only
 * when it cannot go on (its retry resumes here); the others go on to CreateMembers and InviteMembers.
 */
export function recreateMembers(members: ReadonlyMap<string, RegionMembers>): Stage {
  const recreating = (cell: Cell) => cell.request.step === "recreate";
  return async (plan: Plan, signal?: AbortSignal): Promise<Plan> => {
    const answers = new Map<string, CellOutcome>();
    await Promise.all(
      [...members].map(async ([region, regionMembers]) => {
        const ids = new Set(
          pending(plan, (cell) => recreating(cell) && cell.region === region).map(
            (cell) => cell.request.accountId,
          ),
        );
        if (ids.size === 0) return;
        for (const [accountId, outcome] of await regionMembers.deleteUnverified([...ids], signal))
          answers.set(`${accountId}/${region}`, outcome);
      }),
    );
    return decide(plan, (cell) => (recreating(cell) ? answers.get(pairOf(cell)) : undefined));
  };
}
