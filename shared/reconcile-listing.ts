import { desiredAccounts } from "./coverage.ts";
import { isActive, listAccountsPage } from "./organizations.ts";
import { finishIfComplete } from "./reconcile-report.ts";
import { ACCOUNTS_PER_CHUNK, type AccountsUnit, type ReconcileUnit } from "./reconcile-unit.ts";
import { type Reconciler, send } from "./reconciler.ts";

/**
 * A listing unit: ListAccounts pages from its token until a chunk is full, the organization ends or the
 * budget is spent; then the chunk's judging and the next listing unit, in one confirmed send.
 */
export async function listChunk(
  reconciler: Reconciler,
  unit: AccountsUnit,
  { deadline, signal }: { readonly deadline: number; readonly signal?: AbortSignal },
): Promise<void> {
  const { clients, runs, config, logger } = reconciler;
  const listed: { accountId: string; active: boolean }[] = [];
  let nextToken = unit.nextToken;
  do {
    const page = await listAccountsPage(clients.organizations, nextToken, signal);
    for (const account of page.accounts)
      if (account.Id) listed.push({ accountId: account.Id, active: isActive(account) });
    nextToken = page.nextToken;
  } while (nextToken && listed.length < ACCOUNTS_PER_CHUNK && Date.now() < deadline);

  const accounts = desiredAccounts(listed, config.administratorAccountId);
  await runs.recordChunk(
    unit.runId,
    unit.chunk,
    {
      accounts: listed.length,
      inactive: listed.filter((account) => !account.active).length,
      active: listed.filter((account) => account.active).map((account) => account.accountId),
    },
    signal,
  );
  const next: ReconcileUnit[] = [
    {
      version: 1,
      kind: "pairs",
      runId: unit.runId,
      regions: unit.regions,
      chunk: unit.chunk,
      accounts,
      pending: [...unit.regions],
    },
  ];
  if (nextToken) next.push({ ...unit, chunk: unit.chunk + 1, nextToken });
  // The organization is listed: every region's members can now be told apart from departed accounts'.
  else
    next.push({
      version: 1,
      kind: "members",
      runId: unit.runId,
      regions: unit.regions,
      chunk: 0,
      scans: unit.regions.map((region) => ({ region })),
    });
  await send(reconciler, next, signal);
  logger.info("reconcile progress: accounts listed", {
    runId: unit.runId,
    chunk: unit.chunk,
    accounts: listed.length,
    desired: accounts.length,
    more: nextToken !== undefined,
  });
  if (!nextToken)
    await finishIfComplete(reconciler, await runs.listed(unit.runId, unit.chunk + 1, signal), signal);
}
