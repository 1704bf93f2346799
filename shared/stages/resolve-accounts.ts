import type { AccountDirectory } from "../directory.ts";
import { startsAtAdministrator } from "../outcomes.ts";
import { type Cell, decide, enrich, type Plan, pending, type Stage } from "../plan.ts";

/**
 * The accounts of the batch in Organizations, each looked up once: a cell whose account cannot be
 * onboarded is decided here (not in the organization, suspended or closed, no e-mail yet); the others
 * carry the e-mail CreateMembers needs. Cells resuming at a later step (acceptance, verification) need
 * nothing of Organizations, nor do offboard requests (the account has left it). A `recreate` reads the
 * account afresh (`DescribeAccount`): its member is about to be created again with that e-mail.
 */
export function resolveAccounts(directory: AccountDirectory): Stage {
  return async (plan: Plan, signal?: AbortSignal): Promise<Plan> => {
    const onboarding = (cell: Cell) =>
      startsAtAdministrator(cell.request.step) && cell.request.action !== "offboard";
    const cells = pending(plan, onboarding);
    if (cells.length === 0) return plan;
    // The newest account of the batch existed by its event's time: a listing started later holds it.
    const times = cells.map((cell) => Date.parse(cell.request.requestedAt ?? "")).filter(Number.isFinite);
    const lookups = await directory.lookup(
      cells.map((cell) => cell.request.accountId),
      {
        since: times.length === cells.length ? Math.max(...times) : Date.now(),
        fresh: new Set(
          cells.filter((cell) => cell.request.step === "recreate").map((cell) => cell.request.accountId),
        ),
        signal,
      },
    );
    const resolved = decide(plan, (cell) => {
      if (!onboarding(cell)) return undefined;
      const lookup = lookups.get(cell.request.accountId);
      if (!lookup)
        return { outcome: "retry", reason: "service-unavailable", detail: "account lookup gave no answer" };
      if (!lookup.found)
        return { outcome: lookup.decision.verdict, reason: lookup.decision.reason, detail: lookup.detail };
      if (!lookup.account.active) {
        return {
          outcome: "skipped",
          reason: "account-not-active",
          detail: "the account is suspended or closed",
        };
      }
      if (!lookup.account.email) {
        // Asked again on the retry, not served from the directory.
        directory.forget(cell.request.accountId);
        return {
          outcome: "retry",
          reason: "email-missing",
          detail: "Organizations returned no e-mail for the account",
        };
      }
      return undefined;
    });
    return enrich(resolved, (cell) => {
      const lookup = lookups.get(cell.request.accountId);
      return lookup?.found ? { email: lookup.account.email } : {};
    });
  };
}
