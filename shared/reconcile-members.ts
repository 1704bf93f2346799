import { mapWithConcurrency } from "./concurrency.ts";
import { departedMembers, offboardRequests } from "./departed-members.ts";
import { findDetector, listMembersPage } from "./guardduty.ts";
import { describeError } from "./privacy.ts";
import { finishIfComplete } from "./reconcile-report.ts";
import type { RunState } from "./reconcile-runs.ts";
import type { MembersUnit } from "./reconcile-unit.ts";
import { enqueueRepairs, type Reconciler, regionCounts, send } from "./reconciler.ts";

/**
 * A members unit: each region's ListMembers pages from its token, every region at once (each has its
 * own GuardDuty bucket), until the budget is spent. The members of accounts the run's listing did not find
 * active are `offboard-pending` (`departed-members.ts`) and, with `offboardDepartedAccounts`, offboarded
 * by the same request a departure event makes. Each region's stretch is recorded; the rest goes on.
 */
export async function scanMembers(
  reconciler: Reconciler,
  unit: MembersUnit,
  { deadline, signal }: { readonly deadline: number; readonly signal?: AbortSignal },
): Promise<void> {
  const { clients, runs, config, logger } = reconciler;
  const run = await runs.get(unit.runId, signal);
  if (!run) throw new Error(`reconcile run ${unit.runId} is not recorded`);
  const organization = { active: await runs.organization(unit.runId, signal) };
  const scans = await mapWithConcurrency(unit.scans, unit.scans.length, async ({ region, nextToken }) => {
    const departed: string[] = [];
    try {
      const guardduty = clients.guardduty(region);
      const detectorId = await findDetector(guardduty, signal);
      let token = detectorId ? nextToken : undefined;
      if (detectorId)
        do {
          const page = await listMembersPage(guardduty, detectorId, token, signal);
          departed.push(
            ...departedMembers(page.members, organization, {
              administratorAccountId: config.administratorAccountId,
              listedFrom: run.startedAt,
            }),
          );
          token = page.nextToken;
        } while (token && Date.now() < deadline);
      return { region, departed, nextToken: token };
    } catch (error) {
      return { region, departed, failed: describeError(error) };
    }
  });

  const byAccount = new Map<string, string[]>();
  for (const { region, departed } of scans)
    for (const accountId of departed) byAccount.set(accountId, [...(byAccount.get(accountId) ?? []), region]);
  const requests = config.offboardDepartedAccounts
    ? offboardRequests(byAccount, {
        requestedAt: (reconciler.now?.() ?? new Date()).toISOString(),
        correlationId: unit.runId,
      })
    : [];
  const confirmed = await enqueueRepairs(reconciler, requests, signal);
  if (byAccount.size > 0)
    logger.warn("members of accounts no longer active in the organization (their event was lost)", {
      accounts: byAccount.size,
      offboarding: config.offboardDepartedAccounts,
      regions: scans.filter(({ departed }) => departed.length > 0).map(({ region }) => region),
    });

  const rest = scans.flatMap(({ region, nextToken }) => (nextToken ? [{ region, nextToken }] : []));
  if (rest.length > 0) await send(reconciler, [{ ...unit, chunk: unit.chunk + 1, scans: rest }], signal);
  let state: RunState | undefined;
  for (const { region, departed, nextToken, failed: why } of scans) {
    const pairs = departed.map((accountId) => ({
      accountId,
      region,
      verdict: "offboard-pending" as const,
      detail: "a member whose account is no longer active in the organization",
    }));
    const counts = regionCounts(
      pairs,
      (pair) =>
        !config.offboardDepartedAccounts
          ? "none"
          : confirmed.has(`${pair.accountId}-offboard`)
            ? "enqueued"
            : "not-enqueued",
      why,
    );
    if (why)
      logger.error("members could not be listed; the region's departed members wait for the next run", {
        region,
        detail: why,
      });
    state =
      (await runs.recordMembers(unit.runId, region, unit.chunk, counts, nextToken === undefined, signal)) ??
      state;
  }
  logger.info("reconcile progress: members scanned", {
    runId: unit.runId,
    stretch: unit.chunk,
    departed: byAccount.size,
    regionsLeft: rest.map(({ region }) => region),
  });
  if (state) await finishIfComplete(reconciler, state, signal);
}
