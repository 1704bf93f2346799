import {
  type CoverageReport,
  type PairVerdict,
  readCoverage,
  summarize,
  VERDICTS,
  type Verdict,
} from "#shared/coverage";
import { type Command, noPositionals, TARGET_HELP, TARGET_OPTIONS } from "./command.ts";
import { explain, UsageError } from "./errors.ts";
import { Progress } from "./output.ts";
import { administratorAccount, resolveTarget, selectRegions, type TargetFlags } from "./target.ts";

/** `coverage`: the verdict of every (account, region) the stage is responsible for, as a number. */
export const coverageCommand: Command = {
  name: "coverage",
  summary: "the coverage verdict of every (account, region), and the ratio protected",
  help: `Usage: gd-onboard coverage [--verdict v1,v2] [--regions a,b] [--json | --csv] [target]

Reads the organization (ListAccounts), every region's members (ListMembers) and their plans
(GetMemberDetectors), and gives every active account but the administrator a verdict in each of the
stage's regions: ${VERDICTS.join(", ")} (README, "Coverage"). Prints the counts by verdict and region,
the coverage — protected pairs ÷ desired pairs, regions without the administrator's detector left out —
and the pairs that are not protected. Nothing is changed: the reconcile function repairs them.

Options:
  --verdict v1,v2   list only pairs with these verdicts (the counts stay whole)
  --regions a,b     only these of the stage's regions
  --json            the report as JSON: coverage, counts, every pair
  --csv             one row per pair: accountId,region,verdict,detail

${TARGET_HELP}
`,
  options: {
    ...TARGET_OPTIONS,
    regions: { type: "string" },
    verdict: { type: "string" },
    json: { type: "boolean" },
    csv: { type: "boolean" },
  },
  async run(values, positionals, context) {
    noPositionals(this, positionals);
    if (values.json && values.csv) throw new UsageError("--json and --csv: pick one");
    const verdicts = verdictList(values.verdict as string | undefined);
    const { print } = context;
    const { target, clients } = await resolveTarget(values as TargetFlags, context.env, context.clientsFor);
    const regions = await selectRegions(target, values.regions as string | undefined, clients, (line) =>
      print.warn(line),
    );
    const administratorAccountId = await administratorAccount(target, clients);

    const progress = new Progress(print.err);
    let report: CoverageReport;
    try {
      report = await readCoverage(clients, {
        regions,
        profile: target.protection,
        administratorAccountId,
        onProgress: (step) => {
          if (step.phase === "accounts") progress.update("organization accounts listed", step.listed);
          else progress.update("regions read", step.done, step.total);
        },
      });
    } catch (error) {
      throw explain(error, { region: target.region, local: target.local });
    } finally {
      progress.done();
    }
    const selected = verdicts ? report.pairs.filter((pair) => verdicts.includes(pair.verdict)) : report.pairs;
    const code = Object.keys(report.regionsFailed).length > 0 ? 1 : 0;
    for (const [region, detail] of Object.entries(report.regionsFailed))
      print.warn(`error: ${region}: members could not be read (${detail}); the region was left out`);
    for (const [accountId, detail] of Object.entries(report.optInsFailed))
      print.warn(`warning: ${accountId}: opt-in regions could not be read (${detail}); judged as enabled`);

    if (values.json) {
      print.json({
        coverage: report.summary.ratio,
        desired: report.summary.desired,
        protected: report.summary.protected,
        byVerdict: report.summary.byVerdict,
        byRegion: byRegion(report.pairs, regions),
        accounts: report.accounts,
        inactive: report.inactive,
        regionsFailed: report.regionsFailed,
        optInsFailed: report.optInsFailed,
        pairs: selected,
      });
      return code;
    }
    if (values.csv) {
      print.line("accountId,region,verdict,detail");
      for (const pair of selected)
        print.line([pair.accountId, pair.region, pair.verdict, pair.detail].map(csvField).join(","));
      return code;
    }
    const { summary } = report;
    print.line(
      `Coverage of ${target.label}: ${summary.ratio.toFixed(4)} — ${summary.protected} of ${summary.desired} ` +
        `desired (account, region) pairs protected; ${report.accounts} organization account(s), ` +
        `${report.inactive} not active.`,
    );
    const read = regions.filter((region) => !(region in report.regionsFailed));
    const counts = byRegion(report.pairs, read);
    print.table(
      ["verdict", ...read, "total"],
      VERDICTS.filter((verdict) => summary.byVerdict[verdict] > 0).map((verdict) => [
        verdict,
        ...read.map((region) => String(counts[region]?.[verdict] ?? 0)),
        String(summary.byVerdict[verdict]),
      ]),
    );
    const listed = verdicts ? selected : selected.filter((pair) => pair.verdict !== "protected");
    if (listed.length > 0) {
      print.line();
      print.table(
        ["account", "region", "verdict", "detail"],
        listed.map((pair) => [pair.accountId, pair.region, pair.verdict, pair.detail]),
      );
    }
    if (summary.ratio < 1)
      print.line(
        '\nThe reconcile function enqueues each pair\'s repair on its next run (README, "Coverage"); ' +
          "`gd-onboard status ID` tells one account.",
      );
    return code;
  },
};

function verdictList(flag: string | undefined): Verdict[] | undefined {
  if (flag === undefined) return undefined;
  const verdicts = flag
    .split(",")
    .map((item) => item.trim())
    .filter(Boolean);
  const unknown = verdicts.filter((verdict) => !(VERDICTS as readonly string[]).includes(verdict));
  if (verdicts.length === 0 || unknown.length > 0)
    throw new UsageError(`--verdict: "${unknown.join(",") || flag}" is not one of ${VERDICTS.join(", ")}`);
  return verdicts as Verdict[];
}

/** Counts by region and verdict. */
function byRegion(pairs: readonly PairVerdict[], regions: readonly string[]) {
  return Object.fromEntries(
    regions.map((region) => [region, summarize(pairs.filter((pair) => pair.region === region)).byVerdict]),
  );
}

/** RFC 4180: a field with a comma, a quote or a line break is quoted, its quotes doubled. */
function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}
