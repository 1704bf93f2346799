import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { DEPARTURES } from "../../local/drift.ts";
import type { RunSummary } from "../../local/summary.ts";
import { VERDICTS } from "../../shared/coverage.ts";

const run = promisify(execFile);

/** The verdicts a repair fixes: every one but protected, and the two no reconcile can repair. */
const REPAIRABLE = VERDICTS.filter(
  (verdict) =>
    ![
      "protected",
      "no-administrator-detector",
      // No repair: the account itself has to opt in to the region (the opt-in test covers it).
      "region-not-enabled-for-account",
    ].includes(verdict),
);

/**
 * `npm start -- --drift` in its own process, as a newcomer runs it: members put out of place by each
 * party's own calls, accounts closed, removed and joined with their lifecycle events, one reconcile run.
 */
describe("npm start -- --drift", () => {
  it("ends with every desired pair protected, every repair exercised, and the departed accounts no members", async () => {
    // Act (a smaller burst than the default keeps the run short; 10 of its accounts are drifted).
    const { stdout } = await run(
      "npm",
      ["start", "--silent", "--", "--drift", "--json", "--accounts", "11", "--logs", "/dev/null"],
      { timeout: 150_000 },
    );

    // Assess
    const { coverage, members, regions } = JSON.parse(stdout) as Required<RunSummary>;
    expect(coverage).toMatchObject({ ratio: 1, protected: coverage.desired });
    expect(coverage.desired).toBeGreaterThan(0);
    expect(coverage.ratioBeforeReconcile).toBeLessThan(1);
    for (const verdict of REPAIRABLE) {
      expect(coverage.byVerdictBeforeReconcile[verdict], verdict).toBeGreaterThanOrEqual(1);
      expect(coverage.repairs[verdict], verdict).toBeGreaterThanOrEqual(1);
    }
    const departed = coverage.changes
      .filter(({ change }) => DEPARTURES.has(change))
      .map(({ accountId }) => accountId);
    expect(departed).toHaveLength(3);
    for (const accountId of departed) {
      expect(coverage.departed[accountId]).toEqual(
        Object.fromEntries(regions.map((region) => [region, "none"])),
      );
      expect(Object.values(members[accountId] ?? {})).toEqual(regions.map(() => "none"));
    }
    const [joined] = coverage.changes.filter(({ change }) => change === "account-joined");
    expect(members[joined?.accountId as string]).toMatchObject({
      "us-east-1": "Enabled",
      "eu-west-1": "Enabled",
    });
  }, 150_000);
});
