/**
 * `npm start -- --drift`: after the default run, members of the seeded organization are put into every
 * state but `protected` with the calls each party really makes (README, "Coverage"), accounts leave and
 * join the organization with the lifecycle events of `events/lifecycle/`, and the reconcile function —
 * its deployable bundle, in a local container — repairs what it finds. The coverage is measured at the
 * end with `shared/coverage.ts`, as `gd-onboard coverage` measures it.
 */
import { readFileSync } from "node:fs";
import {
  CreateMembersCommand,
  DeleteMembersCommand,
  DisassociateFromAdministratorAccountCommand,
  DisassociateMembersCommand,
  GuardDutyClient,
  InviteMembersCommand,
  StopMonitoringMembersCommand,
  UpdateDetectorCommand,
} from "@aws-sdk/client-guardduty";
import {
  CloseAccountCommand,
  OrganizationsClient,
  RemoveAccountFromOrganizationCommand,
} from "@aws-sdk/client-organizations";
import { createClients } from "#shared/clients";
import { type CoverageReport, readCoverage, type Verdict } from "#shared/coverage";
import type { Feature } from "#shared/protection";
import { plansFor, profileOf } from "#shared/protection";
import type { ReconcileReport } from "#shared/reconcile";
import { ADMINISTRATOR_ACCESS_KEY_ID } from "../sandbox/identity.ts";
import { publish } from "./inputs.ts";
import type { LocalStack } from "./local-stack.ts";

/** The changes, one account each, in this order. */
export const DRIFTS = [
  "member-resigned",
  "monitoring-stopped",
  "member-disassociated",
  "member-deleted",
  "invited-again",
  "email-verification-failed",
  "plan-changed",
  "account-closed",
  "account-removed",
  "account-left-unannounced",
] as const;
export type Drift = (typeof DRIFTS)[number] | "account-joined";

/** The changes after which an account is no longer active in the organization: its members must go. */
export const DEPARTURES: ReadonlySet<Drift> = new Set([
  "account-closed",
  "account-removed",
  "account-left-unannounced",
]);

export interface DriftChange {
  readonly accountId: string;
  readonly change: Drift;
  /** The region a member change was made in; departures and joins concern every region. */
  readonly region?: string;
}

export interface DriftCoverage {
  readonly desired: number;
  readonly protected: number;
  readonly ratio: number;
  readonly byVerdict: Readonly<Record<Verdict, number>>;
  /** verdict the reconcile measured → (account, region) pairs it enqueued a repair for (SQS confirmed). */
  readonly repairs: Readonly<Partial<Record<Verdict, number>>>;
  /** The ratio and the counts the reconcile measured, before its repairs. */
  readonly ratioBeforeReconcile: number;
  readonly byVerdictBeforeReconcile: Readonly<Record<Verdict, number>>;
  readonly changes: readonly DriftChange[];
  /** Departed accounts: region → relationship status at the end ("none": not a member). */
  readonly departed: Readonly<Record<string, Readonly<Record<string, string>>>>;
}

const MANAGEMENT_KEY = "AKIDLOCALDRIFTMANAGEMENT";

/** A sample of events/lifecycle/ with its placeholder account id replaced, as a rule delivers it. */
export function lifecycleSample(name: string, placeholder: string, accountId: string): string {
  const text = readFileSync(`events/lifecycle/${name}.json`, "utf8").replaceAll(placeholder, accountId);
  return JSON.stringify(JSON.parse(text));
}

/**
 * Puts one candidate account per change of `DRIFTS` out of place, in `region` for member changes, and
 * adds `joinedAccountId` to the organization; publishes the lifecycle events of the departures and the
 * join. `candidates` must be protected members in `region`, at least one per change.
 */
export async function applyDrift(
  local: LocalStack,
  options: {
    readonly region: string;
    readonly candidates: readonly string[];
    readonly joinedAccountId: string;
  },
): Promise<DriftChange[]> {
  const { region, candidates } = options;
  if (candidates.length < DRIFTS.length)
    throw new Error(
      `--drift: needs ${DRIFTS.length} protected members in ${region}, found ${candidates.length}; publish more accounts (--accounts N)`,
    );
  const { sandbox } = local;
  const changes: DriftChange[] = DRIFTS.map((change, index) => ({
    accountId: candidates[index] as string,
    change,
    ...(!change.startsWith("account-") && { region }),
  }));
  const of = (change: Drift) => changes.find((entry) => entry.change === change)?.accountId as string;
  // The sandbox throttles GuardDuty at 1 call/s per API and region (local/start.ts): two InviteMembers
  // in a row need more than the SDK's default 3 attempts to get through.
  const guardduty = (accessKeyId: string) =>
    new GuardDutyClient({
      region,
      endpoint: sandbox.url,
      credentials: { accessKeyId, secretAccessKey: "local" },
      maxAttempts: 10,
    });
  const own = (accountId: string) => {
    sandbox.registerCredentials(`AKIDLOCALDRIFT${accountId}`, accountId);
    return guardduty(`AKIDLOCALDRIFT${accountId}`);
  };
  const admin = guardduty(ADMINISTRATOR_ACCESS_KEY_ID);
  const [resigning, changing] = [own(of("member-resigned")), own(of("plan-changed"))];
  const DetectorId = sandbox.detectorId(sandbox.administratorAccountId, region) as string;

  // The member's own calls: it leaves its administrator, and turns a plan the profile names the other way.
  await resigning.send(
    new DisassociateFromAdministratorAccountCommand({
      DetectorId: sandbox.detectorId(of("member-resigned"), region),
    }),
  );
  const [feature, setting] = Object.entries(
    plansFor(profileOf(local.functionEnv.PROTECTION_PLANS), region),
  )[0] as [Feature, { status: string }];
  await changing.send(
    new UpdateDetectorCommand({
      DetectorId: sandbox.detectorId(of("plan-changed"), region),
      Features: [{ Name: feature, Status: setting.status === "ENABLED" ? "DISABLED" : "ENABLED" }],
    }),
  );
  // The administrator's calls, by a person (not the stack's roles): no tamper signal reaches the bus here.
  await admin.send(new StopMonitoringMembersCommand({ DetectorId, AccountIds: [of("monitoring-stopped")] }));
  const unverified = of("email-verification-failed");
  const disassociated = [of("member-disassociated"), of("member-deleted"), of("invited-again"), unverified];
  await admin.send(new DisassociateMembersCommand({ DetectorId, AccountIds: disassociated }));
  await admin.send(new DeleteMembersCommand({ DetectorId, AccountIds: [of("member-deleted"), unverified] }));
  await admin.send(
    new InviteMembersCommand({
      DetectorId,
      AccountIds: [of("invited-again")],
      DisableEmailNotification: true,
    }),
  );
  // Created again by hand with an address no mail reaches, and invited with GuardDuty's e-mail: its
  // verification fails (the sandbox's `undeliverable`), EmailVerificationFailed.
  await admin.send(
    new CreateMembersCommand({
      DetectorId,
      AccountDetails: [{ AccountId: unverified, Email: `acct-${unverified}@example.invalid` }],
    }),
  );
  await admin.send(new InviteMembersCommand({ DetectorId, AccountIds: [unverified] }));

  // The management account closes one account and removes another; one joins by invitation.
  sandbox.registerCredentials(MANAGEMENT_KEY, sandbox.managementAccountId);
  const organizations = new OrganizationsClient({
    region: "us-east-1",
    endpoint: sandbox.url,
    credentials: { accessKeyId: MANAGEMENT_KEY, secretAccessKey: "local" },
  });
  await organizations.send(new CloseAccountCommand({ AccountId: of("account-closed") }));
  await organizations.send(new RemoveAccountFromOrganizationCommand({ AccountId: of("account-removed") }));
  // Removed too, but its event is lost (CloudTrail to EventBridge is best effort): the reconcile's scan of
  // the members finds it (offboard-pending).
  await organizations.send(
    new RemoveAccountFromOrganizationCommand({ AccountId: of("account-left-unannounced") }),
  );
  sandbox.addAccounts([{ id: options.joinedAccountId }]);
  changes.push({ accountId: options.joinedAccountId, change: "account-joined" });
  for (const client of [admin, resigning, changing, organizations]) client.destroy();

  // Sandbox calls emit no CloudTrail events: the ones the rules would deliver are published here.
  await publish(local.sqs.client, local.sqs.urls.OnboardingQueue as string, [
    lifecycleSample("organizations-close-account-result.service-event", "888888888888", of("account-closed")),
    lifecycleSample(
      "organizations-remove-account-from-organization.cloudtrail-api-call",
      "999999999999",
      of("account-removed"),
    ),
    lifecycleSample(
      "organizations-accept-handshake.cloudtrail-api-call",
      "555555555555",
      options.joinedAccountId,
    ),
  ]);
  return changes;
}

/** The coverage as the operator reads it (`gd-onboard coverage`): the stack's operator credentials. */
export function measureCoverage(local: LocalStack, regions: readonly string[]): Promise<CoverageReport> {
  return readCoverage(createClients({ env: local.env }), {
    regions,
    profile: profileOf(local.functionEnv.PROTECTION_PLANS),
    administratorAccountId: local.sandbox.administratorAccountId,
  });
}

/**
 * The coverage block of the summary: the end state, and the pairs the reconcile enqueued a repair for,
 * counted by the verdict they were repaired from.
 */
export function driftCoverage(
  local: LocalStack,
  run: {
    readonly reconcile: ReconcileReport;
    readonly after: CoverageReport;
    readonly changes: readonly DriftChange[];
    readonly regions: readonly string[];
  },
): DriftCoverage {
  const departed = Object.fromEntries(
    run.changes
      .filter(({ change }) => DEPARTURES.has(change))
      .map(({ accountId }) => [
        accountId,
        Object.fromEntries(
          run.regions.map((region) => [region, local.sandbox.status(accountId, region) ?? "none"]),
        ),
      ]),
  );
  const { summary } = run.after;
  return {
    desired: summary.desired,
    protected: summary.protected,
    ratio: summary.ratio,
    byVerdict: summary.byVerdict,
    repairs: run.reconcile.repairs,
    ratioBeforeReconcile: run.reconcile.summary.ratio,
    byVerdictBeforeReconcile: run.reconcile.summary.byVerdict,
    changes: run.changes,
    departed,
  };
}
