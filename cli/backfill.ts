import { randomUUID } from "node:crypto";
import { type BackfillReport, backfill, type Gap } from "#shared/backfill";
import { type Command, noPositionals, TARGET_HELP, TARGET_OPTIONS } from "./command.ts";
import { explain, UsageError } from "./errors.ts";
import { Progress } from "./output.ts";
import { administratorAccount, resolveTarget, selectRegions, type TargetFlags } from "./target.ts";

/** `backfill`: the accounts that existed before the pipeline, onto OnboardingQueue. */
export const backfillCommand: Command = {
  name: "backfill",
  summary: "enqueue every existing account that is not yet a member where it should be",
  help: `Usage: gd-onboard backfill [--regions a,b] [--dry-run] [--json] [target]

Onboards the accounts that already exist. Lists the organization (ListAccounts, every page) and the
administrator's members in each region (ListMembers, members that never accepted included), then
enqueues on OnboardingQueue one request per active account that is not invited or enabled everywhere
it should be, naming only the regions where it is missing (origin "backfill"). The pipeline onboards
them as it does new accounts, so running it again is harmless. Suspended or closed accounts and the
administrator account are never enqueued. The scheduled reconcile function goes further, daily:
it repairs every pair that is not protected (gd-onboard coverage shows them).

Options:
  --regions a,b     only these of the stage's regions
  --dry-run         print what would be enqueued; send nothing
  --json            the report as JSON

${TARGET_HELP}
`,
  options: {
    ...TARGET_OPTIONS,
    regions: { type: "string" },
    "dry-run": { type: "boolean" },
    json: { type: "boolean" },
  },
  async run(values, positionals, context) {
    noPositionals(this, positionals);
    const { print } = context;
    const { target, clients } = await resolveTarget(values as TargetFlags, context.env, context.clientsFor);
    const regions = await selectRegions(target, values.regions as string | undefined, clients, (line) =>
      print.warn(line),
    );
    const onboardingQueueUrl = target.onboardingQueueUrl;
    if (!onboardingQueueUrl)
      throw new UsageError(`no OnboardingQueue URL for ${target.label}: pass --onboarding-queue-url`);
    const administratorAccountId = await administratorAccount(target, clients);
    const dryRun = Boolean(values["dry-run"]);

    const progress = new Progress(print.err);
    let report: BackfillReport;
    try {
      report = await backfill(clients, {
        regions,
        onboardingQueueUrl,
        administratorAccountId,
        origin: "backfill",
        correlationId: `backfill-${randomUUID()}`,
        dryRun,
        now: context.now,
        onProgress: (step) => {
          if (step.phase === "accounts") progress.update("organization accounts listed", step.listed);
          else if (step.phase === "members") progress.update("regions listed", step.done, step.total);
          else progress.update("requests enqueued", step.sent, step.total);
        },
      });
    } catch (error) {
      throw explain(error, { queueUrl: onboardingQueueUrl, region: target.region, local: target.local });
    } finally {
      progress.done();
    }

    if (values.json) {
      print.json(report);
      return exitCode(report);
    }
    const { drift, gaps, requests } = report.plan;
    print.line(
      `Backfill of ${target.label}: ${drift.accounts} organization account(s), ${drift.inactive} not active; ` +
        `regions compared: ${drift.regions.join(", ") || "none"}.`,
    );
    for (const region of report.regionsWithoutDetector) {
      print.warn(
        `warning: ${region}: the administrator has no GuardDuty detector there, so no account can join; ` +
          "enable GuardDuty in that region, then run backfill again",
      );
    }
    for (const [region, detail] of Object.entries(report.regionsFailed)) {
      print.warn(`error: ${region}: members could not be listed (${detail}); the region was left out`);
    }
    const sent = new Set(report.enqueued);
    const byAccount = new Map<string, Gap[]>();
    for (const gap of gaps) byAccount.set(gap.accountId, [...(byAccount.get(gap.accountId) ?? []), gap]);
    for (const request of requests) {
      const why = (byAccount.get(request.accountId) ?? [])
        .map((gap) => `${gap.region} ${gap.status}`)
        .join(", ");
      const failure = report.failed[request.accountId];
      const verb = dryRun
        ? "would enqueue"
        : failure
          ? "failed"
          : sent.has(request.accountId)
            ? "enqueued"
            : "not sent";
      print.line(
        `${verb.padEnd(13)} ${request.accountId}  ${request.regions?.join(",")}  (${why})${failure ? `: ${failure}` : ""}`,
      );
    }
    if (requests.length === 0) {
      print.line("Nothing to enqueue: every active account is invited or enabled in every region compared.");
    } else {
      const statuses = Object.entries(drift.missingByStatus)
        .map(([status, count]) => `${status} ${count}`)
        .join(", ");
      print.line(
        `${dryRun ? "Would enqueue" : "Enqueued"} ${dryRun ? requests.length : report.enqueued.length} request(s) ` +
          `for ${drift.missing} missing (account, region) pair(s): ${statuses}.` +
          (dryRun ? "" : " Follow the pipeline with `gd-onboard dlq list` and `gd-onboard status ID`."),
      );
    }
    return exitCode(report);
  },
};

/** 1 when something was left undone: a region not compared, or a request not enqueued. */
function exitCode(report: BackfillReport): number {
  return Object.keys(report.regionsFailed).length > 0 || Object.keys(report.failed).length > 0 ? 1 : 0;
}
