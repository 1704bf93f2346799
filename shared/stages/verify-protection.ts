import type { OrganizationFinding, RegionProtection } from "../member-protection.ts";
import type { CellOutcome } from "../outcomes.ts";
import { decide, type Plan, pairOf, pending, type Stage } from "../plan.ts";
import { describeError } from "../privacy.ts";

/**
 * Protection, verified: per region, in parallel, every associated member of the batch — its plans read
 * back (GetMemberDetectors), brought to the profile where they differ (UpdateMemberDetectors), read back
 * again (`member-protection.ts`). Organization mode first reports, once per container and region, where
 * the organization's configuration contradicts the profile.
 */
export function verifyProtection(
  protections: ReadonlyMap<string, RegionProtection>,
  onFindings: (findings: readonly OrganizationFinding[]) => void = () => {},
  onError: (region: string, detail: string) => void = () => {},
): Stage {
  return async (plan: Plan, signal?: AbortSignal): Promise<Plan> => {
    const answers = new Map<string, CellOutcome>();
    await Promise.all(
      [...protections].map(async ([region, protection]) => {
        const accountIds = [
          ...new Set(
            pending(plan, (cell) => cell.region === region && cell.associated === true).map(
              (cell) => cell.request.accountId,
            ),
          ),
        ];
        if (accountIds.length === 0) return;
        try {
          const findings = await protection.organizationFindings(signal);
          if (findings.length > 0) onFindings(findings);
        } catch (error) {
          // A check, not a step: the members are verified one by one whatever it would have said.
          onError(region, describeError(error));
        }
        for (const [accountId, outcome] of await protection.verify(accountIds, signal))
          answers.set(`${accountId}/${region}`, outcome);
      }),
    );
    return decide(plan, (cell) =>
      cell.associated
        ? (answers.get(pairOf(cell)) ?? {
            outcome: "retry",
            reason: "service-unavailable",
            detail: "no GuardDuty answer for this member's plans",
            step: "verify",
          })
        : undefined,
    );
  };
}
