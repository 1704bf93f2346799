import type { Plan, Stage } from "../plan.ts";

/**
 * The one place where a retry becomes final: a request that has spent its attempts is dead-lettered as
 * `retries-exhausted`, with the last reason, instead of retried. The reporter and the router then read
 * the same outcome.
 */
export function exhaustRetries(maxAttempts: number): Stage {
  return async (plan: Plan): Promise<Plan> => ({
    ...plan,
    cells: plan.cells.map((cell) => {
      const { outcome } = cell;
      const attempts = cell.request.attempt + 1;
      if (outcome?.outcome !== "retry" || attempts < maxAttempts) return cell;
      return {
        ...cell,
        outcome: {
          outcome: "dead-letter",
          reason: "retries-exhausted",
          detail: `after ${attempts} attempts, last ${outcome.reason}: ${outcome.detail ?? ""}`,
          step: outcome.step,
        },
      };
    }),
  });
}
