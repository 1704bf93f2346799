import type { RegionMembers } from "../members.ts";
import { awaitsVerification, type CellOutcome, startsAtAdministrator } from "../outcomes.ts";
import { type Cell, decide, enrich, type Plan, pairOf, pending, type Stage } from "../plan.ts";

/**
 * The administrator side: per region, in parallel, every pending account of the batch at once —
 * CreateMembers, then (invitation mode) InviteMembers, ≤ 50 accounts a call (`members.ts`). Cells
 * resuming at acceptance skip it: their invitation went out on an earlier attempt. Cells of a `recreate`
 * come here once their unverifiable member is deleted (`recreate-members.ts`).
 */
export function administratorSide(members: ReadonlyMap<string, RegionMembers>): Stage {
  return async (plan: Plan, signal?: AbortSignal): Promise<Plan> => {
    const answers = new Map<string, CellOutcome>();
    await Promise.all(
      [...members].map(async ([region, regionMembers]) => {
        const accounts = new Map<string, string>();
        for (const cell of pending(
          plan,
          (candidate) => candidate.region === region && startsAtAdministrator(candidate.request.step),
        )) {
          if (cell.email) accounts.set(cell.request.accountId, cell.email);
        }
        if (accounts.size === 0) return;
        const outcomes = await regionMembers.onboard(
          [...accounts].map(([accountId, email]) => ({ accountId, email })),
          signal,
        );
        for (const [accountId, outcome] of outcomes) answers.set(`${accountId}/${region}`, outcome);
      }),
    );
    const associated = (cell: Cell) => {
      const answer = answers.get(pairOf(cell));
      return cell.request.step === "verify" || (answer !== undefined && awaitsVerification(answer));
    };
    return decide(
      enrich(plan, (cell) => (associated(cell) ? { associated: true } : {})),
      (cell) => {
        // Resuming at the member side: the administrator's invitation went out on an earlier attempt.
        if (cell.request.step === "accept") return { outcome: "invited", memberStatus: "Invited" };
        if (cell.associated) return undefined;
        return (
          answers.get(pairOf(cell)) ?? {
            outcome: "retry",
            reason: "service-unavailable",
            detail: "no GuardDuty answer for this account",
          }
        );
      },
    );
  };
}
