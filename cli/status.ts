import { GetMemberDetectorsCommand, type GuardDutyClient } from "@aws-sdk/client-guardduty";
import { DescribeAccountCommand, type OrganizationsClient } from "@aws-sdk/client-organizations";
import { chunk, mapWithConcurrency } from "#shared/concurrency";
import { pairVerdict } from "#shared/coverage";
import type { DeadLetterView } from "#shared/dead-letters";
import { findDetector, getMembers, MAX_ACCOUNTS_PER_CALL, NOT_A_MEMBER } from "#shared/guardduty";
import { describeError } from "#shared/privacy";
import { type ActualPlans, actualPlans, differences, plansAsJson, plansFor } from "#shared/protection";
import { accountIdArgument, type Command, TARGET_HELP, TARGET_OPTIONS } from "./command.ts";
import { DeadLetterQueue, readAll } from "./dead-letter-queue.ts";
import { explain, UsageError } from "./errors.ts";
import { age, truncate } from "./output.ts";
import { resolveTarget, selectRegions, type TargetFlags } from "./target.ts";

/** `status`: where given accounts stand, per region, and what the DLQ holds about them. */

/** DescribeAccount calls in flight: Organizations throttles across all of its APIs. */
const DESCRIBE_CONCURRENCY = 4;

export const statusCommand: Command = {
  name: "status",
  summary: "relationship status of accounts per region, and their DLQ messages",
  help: `Usage: gd-onboard status ACCOUNT_ID... [--regions a,b] [--json] [target]

For each account: its state in the organization (DescribeAccount: ACTIVE, SUSPENDED… or not in the
organization), its relationship with the administrator in each region (GetMembers: Created, Invited,
Enabled, Removed…, or not a member; Invited means the member has yet to accept), its protection plans
there (GetMemberDetectors) against the stage's profile — protected, or what differs — and its
messages on the DeadLetterQueue, with their reasons.

Options:
  --regions a,b     only these of the stage's regions
  --json            the report as JSON

${TARGET_HELP}
`,
  options: { ...TARGET_OPTIONS, regions: { type: "string" }, json: { type: "boolean" } },
  async run(values, positionals, context) {
    if (positionals.length === 0)
      throw new UsageError("name at least one account id (see gd-onboard status --help)");
    const ids = [...new Set(positionals.map((id) => accountIdArgument(id, "account id")))];
    const { print } = context;
    const { target, clients } = await resolveTarget(values as TargetFlags, context.env, context.clientsFor);
    const regions = await selectRegions(target, values.regions as string | undefined, clients, (line) =>
      print.warn(line),
    );

    let organization: Map<string, string>;
    let members: Map<string, RegionStates>;
    try {
      organization = await organizationStates(clients.organizations, ids);
      members = new Map(
        await mapWithConcurrency(
          regions,
          4,
          async (region) => [region, await memberStates(clients.guardduty(region), ids)] as const,
        ),
      );
    } catch (error) {
      throw explain(error, { region: target.region, local: target.local });
    }
    const letters = target.deadLetterQueueUrl
      ? (await readAll(new DeadLetterQueue(clients.sqs, target.deadLetterQueueUrl), target)).filter(
          (view) => view.accountId !== undefined && ids.includes(view.accountId),
        )
      : undefined;

    const protectionOf = (accountId: string, region: string) => {
      const states = members.get(region);
      const status = states?.statuses.get(accountId);
      const plans = states?.plans.get(accountId);
      const wanted = plansFor(target.protection, region);
      return {
        verdict: states?.unknown ?? pairVerdict(status, plans, target.protection, region),
        plans: plans && plansAsJson(plans),
        differences: plans ? differences(wanted, plans) : [],
      };
    };
    const report = ids.map((accountId) => ({
      accountId,
      organization: organization.get(accountId) ?? "unknown",
      regions: Object.fromEntries(
        regions.map((region) => [
          region,
          members.get(region)?.unknown ?? members.get(region)?.statuses.get(accountId) ?? NOT_A_MEMBER,
        ]),
      ),
      protection: Object.fromEntries(regions.map((region) => [region, protectionOf(accountId, region)])),
      deadLetters: letters?.filter((view) => view.accountId === accountId),
    }));
    if (values.json) {
      print.json(report);
      return 0;
    }
    const now = context.now();
    const width = Math.max(...regions.map((region) => region.length));
    for (const account of report) {
      print.line(`${account.accountId}  organization: ${account.organization}`);
      for (const [region, status] of Object.entries(account.regions)) {
        const { verdict, differences: differing } = account.protection[region] ?? {};
        const protection =
          verdict === "protected"
            ? "  protected (plans = profile)"
            : verdict === "plans-differ"
              ? `  plans differ: ${differing?.join("; ")}`
              : "";
        print.line(
          `  ${region.padEnd(width)}  ${status === NOT_A_MEMBER ? "not a member" : status}${protection}`,
        );
      }
      print.line(`  dead letters: ${deadLetterSummary(account.deadLetters)}`);
      for (const view of account.deadLetters ?? []) {
        print.line(
          `    ${view.messageId.slice(0, 8)}  ${view.region ?? "-"}  ${view.reason}  ${age(view.sentAt, now)}  ` +
            truncate(view.detail, 80),
        );
      }
    }
    return 0;
  },
};

function deadLetterSummary(letters: readonly DeadLetterView[] | undefined): string {
  if (letters === undefined) return "(no DeadLetterQueue URL for this target)";
  if (letters.length === 0) return "none";
  return `${letters.length} — replay with \`gd-onboard dlq replay --account ID\` once the cause is fixed`;
}

/** Organizations' state of each account (`State`, else the older `Status`); never its e-mail. */
async function organizationStates(
  organizations: OrganizationsClient,
  ids: readonly string[],
): Promise<Map<string, string>> {
  const states = new Map<string, string>();
  await mapWithConcurrency(ids, DESCRIBE_CONCURRENCY, async (accountId) => {
    try {
      const { Account } = await organizations.send(new DescribeAccountCommand({ AccountId: accountId }));
      states.set(accountId, Account?.State ?? Account?.Status ?? "unknown");
    } catch (error) {
      if ((error as Error).name === "AccountNotFoundException")
        states.set(accountId, "not in the organization");
      else if ((error as Error).name === "CredentialsProviderError") throw error;
      else states.set(accountId, `unknown (${describeError(error)})`);
    }
  });
  return states;
}

/** One region as the administrator sees the accounts: relationship status and, for members, plans. */
interface RegionStates {
  readonly statuses: Map<string, string>;
  readonly plans: Map<string, ActualPlans>;
  /** Why nothing is known there (no administrator detector, a failed call). */
  readonly unknown?: string;
}

/**
 * Relationship status by account in one region (GetMembers), and the plans of its members' detectors
 * (GetMemberDetectors, ≤ 50 ids a call); a region without detector says so.
 */
async function memberStates(guardduty: GuardDutyClient, ids: readonly string[]): Promise<RegionStates> {
  const statuses = new Map<string, string>();
  const plans = new Map<string, ActualPlans>();
  try {
    const detectorId = await findDetector(guardduty);
    if (!detectorId) return { statuses, plans, unknown: "GuardDuty not enabled for the administrator" };
    for (const member of await getMembers(guardduty, detectorId, ids)) {
      if (member.AccountId) statuses.set(member.AccountId, member.RelationshipStatus ?? "unknown");
    }
    for (const part of chunk([...statuses.keys()], MAX_ACCOUNTS_PER_CALL)) {
      const answer = await guardduty.send(
        new GetMemberDetectorsCommand({ DetectorId: detectorId, AccountIds: part }),
      );
      for (const member of answer.MemberDataSourceConfigurations ?? [])
        if (member.AccountId) plans.set(member.AccountId, actualPlans(member.Features));
    }
  } catch (error) {
    if ((error as Error).name === "CredentialsProviderError") throw error;
    if (statuses.size === 0) return { statuses, plans, unknown: `unknown (${describeError(error)})` };
  }
  return { statuses, plans };
}
