/**
 * The summary of a local run: what the function decided (from its structured log lines), what the
 * sandbox ended up with (relationship status per account and region, API calls, invitations), and what
 * is left on the queues. `renderSummary` prints it for people; `--json` prints the object itself.
 */
import {
  ChangeMessageVisibilityBatchCommand,
  ReceiveMessageCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import { reasonTable } from "#shared/classify";
import { pairVerdict, VERDICTS } from "#shared/coverage";
import { asDeadLetter, REDRIVEN_BY_SQS } from "#shared/dead-letter";
import { plansAsJson, profileOf } from "#shared/protection";
import type { DriftCoverage } from "./drift.ts";
import { type EventSourceStats, emptyStats } from "./event-source.ts";
import type { LocalStack, QueueDepth } from "./local-stack.ts";

export interface RunSummary {
  readonly seed: number;
  readonly regions: readonly string[];
  readonly administratorAccountId: string;
  /** The stage's `membershipMode`: `invitation` or `organization`. */
  readonly membershipMode: string;
  /** Organization mode: the regions where the stack's account is GuardDuty's delegated administrator. */
  readonly delegatedAdministratorRegions: readonly string[];
  readonly published: number;
  readonly wallTimeMs: number;
  /** Outcome decisions logged by the function (an account retried then invited counts in both). */
  readonly outcomes: Record<string, number>;
  readonly reasons: Record<string, number>;
  /** Relationship status per published account and region, as the sandbox sees it ("none": not a member). */
  readonly members: Record<string, Record<string, string>>;
  readonly statusCounts: Record<string, Record<string, number>>;
  /** account → region → verdict (shared/coverage.ts: `protected`, `plans-differ`, `not-a-member`…). */
  readonly protection: Record<string, Record<string, string>>;
  /** region → verdict → (account, region) pairs. */
  readonly protectionCounts: Record<string, Record<string, number>>;
  /** account → region → {FEATURE: STATUS} as the sandbox holds the account's detector (none: no detector). */
  readonly plans: Record<string, Record<string, ReturnType<typeof plansAsJson>>>;
  readonly deadLetters: readonly DeadLetter[];
  /** operation → calls (all regions). */
  readonly apiCalls: Record<string, number>;
  readonly apiCallsByRegion: Record<string, Record<string, number>>;
  readonly throttled: number;
  readonly serverErrors: number;
  /** operation → calls IAM refused (the caller's policies did not allow them). */
  readonly deniedByIam: Record<string, number>;
  /** (account, region) pairs that received more than one invitation; empty when none did. */
  readonly duplicateInvitations: readonly { accountId: string; region: string; invitations: number }[];
  readonly queues: Record<string, QueueDepth>;
  readonly eventSource: EventSourceStats;
  /** `--drift`: the coverage at the end, and the repairs the reconcile made by the verdict they fixed. */
  readonly coverage?: DriftCoverage;
}

export interface DeadLetter {
  readonly reason: string;
  readonly accountId?: string;
  readonly region?: string;
  readonly detail?: string;
  /** The DLQ body: parsed when it is JSON, else the string as it is. */
  readonly body: unknown;
}

/** Tallies the `outcome` and `reason` fields of the function's JSON log lines. */
export class OutcomeTally {
  readonly outcomes: Record<string, number> = {};
  readonly reasons: Record<string, number> = {};

  add(line: string): void {
    let entry: { outcome?: unknown; reason?: unknown; _aws?: unknown };
    try {
      entry = JSON.parse(line) as typeof entry;
    } catch {
      return;
    }
    if (entry._aws !== undefined) return; // an EMF metrics document, not a log line
    if (typeof entry.outcome === "string") increment(this.outcomes, entry.outcome);
    if (typeof entry.outcome === "string" && typeof entry.reason === "string")
      increment(this.reasons, entry.reason);
  }
}

export async function summarize(
  local: LocalStack,
  run: {
    seed: number;
    regions: readonly string[];
    accounts: readonly string[];
    published: number;
    wallTimeMs: number;
  },
  tally: OutcomeTally,
): Promise<RunSummary> {
  const { sandbox } = local;
  const members: Record<string, Record<string, string>> = {};
  const statusCounts: Record<string, Record<string, number>> = {};
  for (const region of run.regions) statusCounts[region] = {};
  const profile = profileOf(local.functionEnv.PROTECTION_PLANS);
  const protection: Record<string, Record<string, string>> = {};
  const protectionCounts: Record<string, Record<string, number>> = {};
  const plans: RunSummary["plans"] = {};
  for (const region of run.regions) protectionCounts[region] = {};
  for (const accountId of run.accounts) {
    const statuses: Record<string, string> = {};
    const verdicts: Record<string, string> = {};
    const held: RunSummary["plans"][string] = {};
    for (const region of run.regions) {
      const status = sandbox.status(accountId, region);
      const features = sandbox.features(accountId, region);
      statuses[region] = status ?? "none";
      increment(statusCounts[region] as Record<string, number>, statuses[region]);
      verdicts[region] = pairVerdict(status, features, profile, region);
      increment(protectionCounts[region] as Record<string, number>, verdicts[region]);
      if (features) held[region] = plansAsJson(features);
    }
    members[accountId] = statuses;
    protection[accountId] = verdicts;
    plans[accountId] = held;
  }
  const counters = sandbox.counters.snapshot();
  const duplicateInvitations = Object.entries(counters.invitations).flatMap(([accountId, regions]) =>
    Object.entries(regions)
      .filter(([, invitations]) => invitations > 1)
      .map(([region, invitations]) => ({ accountId, region, invitations })),
  );
  const eventSource = local.eventSources.reduce<EventSourceStats>((sum, source) => {
    for (const key of Object.keys(sum) as (keyof EventSourceStats)[]) sum[key] += source.stats[key];
    return sum;
  }, emptyStats());
  const queues = await local.depths();
  return {
    seed: run.seed,
    regions: run.regions,
    administratorAccountId: sandbox.administratorAccountId,
    membershipMode: local.stack.params.membershipMode ?? "invitation",
    delegatedAdministratorRegions: run.regions.filter(
      (region) => sandbox.delegatedAdministrator(region) === sandbox.administratorAccountId,
    ),
    published: run.published,
    wallTimeMs: run.wallTimeMs,
    outcomes: tally.outcomes,
    reasons: tally.reasons,
    members,
    statusCounts,
    protection,
    protectionCounts,
    plans,
    deadLetters: await peekDeadLetters(local.sqs.client, local.sqs.urls.DeadLetterQueue as string),
    apiCalls: Object.fromEntries(Object.entries(counters.calls).map(([op, regions]) => [op, sum(regions)])),
    apiCallsByRegion: counters.calls as Record<string, Record<string, number>>,
    throttled: sum(Object.values(counters.throttled).map(sum)),
    serverErrors: sum(Object.values(counters.serverErrors).map(sum)),
    deniedByIam: Object.fromEntries(
      Object.entries(counters.denied).map(([op, regions]) => [op, sum(regions)]),
    ),
    duplicateInvitations,
    queues,
    eventSource,
  };
}

/**
 * Reads every dead-letter message without deleting it: each is received once, hidden while the read
 * goes on, and made visible again at its end (so a replay right after sees every message).
 */
export async function peekDeadLetters(sqs: SQSClient, queueUrl: string): Promise<DeadLetter[]> {
  const letters: DeadLetter[] = [];
  const handles: string[] = [];
  try {
    for (;;) {
      const { Messages = [] } = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: queueUrl,
          MaxNumberOfMessages: 10,
          VisibilityTimeout: 30,
          WaitTimeSeconds: 0,
        }),
      );
      if (Messages.length === 0) return letters;
      for (const message of Messages) {
        letters.push(toDeadLetter(message.Body ?? ""));
        if (message.ReceiptHandle) handles.push(message.ReceiptHandle);
      }
    }
  } finally {
    for (let start = 0; start < handles.length; start += 10) {
      const entries = handles
        .slice(start, start + 10)
        .map((ReceiptHandle, index) => ({ Id: String(index), ReceiptHandle, VisibilityTimeout: 0 }));
      await sqs.send(new ChangeMessageVisibilityBatchCommand({ QueueUrl: queueUrl, Entries: entries }));
    }
  }
}

function toDeadLetter(raw: string): DeadLetter {
  let body: unknown = raw;
  try {
    body = JSON.parse(raw);
  } catch {
    // SQS redrove a body that was never JSON: shown as it is.
  }
  // A body the pipeline did not write was redriven by SQS itself after repeated failed receives.
  const letter = asDeadLetter(body);
  return {
    reason: letter?.reason ?? REDRIVEN_BY_SQS,
    accountId: letter?.accountId,
    region: letter?.region,
    detail: letter?.detail,
    body,
  };
}

export function renderSummary(summary: RunSummary): string {
  const lines: string[] = [];
  const seconds = (summary.wallTimeMs / 1000).toFixed(1);
  lines.push(
    `GuardDuty onboarding, local run — seed ${summary.seed}, administrator ${summary.administratorAccountId}, ` +
      (summary.membershipMode === "organization"
        ? `organization mode (delegated administrator in ${summary.delegatedAdministratorRegions.join(", ") || "no region"}: CreateMembers alone, no invitation, no AssumeRole)`
        : "invitation mode (CreateMembers + InviteMembers, the member side accepts)"),
    `Published ${summary.published} messages; drained in ${seconds} s ` +
      `(${summary.eventSource.invocations} invocations, ${summary.eventSource.coldStarts} cold starts, ` +
      `${summary.eventSource.failedInvocations} failed).`,
    "",
    "Member status per region (accounts named by the published messages):",
  );
  const statuses = [
    ...new Set(Object.values(summary.statusCounts).flatMap((counts) => Object.keys(counts))),
  ].sort();
  lines.push(
    table(
      ["region", ...statuses],
      summary.regions.map((region) => [
        region,
        ...statuses.map((s) => String(summary.statusCounts[region]?.[s] ?? 0)),
      ]),
    ),
  );
  const verdicts = [
    ...new Set(Object.values(summary.protectionCounts).flatMap((counts) => Object.keys(counts))),
  ].sort();
  lines.push(
    "",
    "Protection per region (Enabled under this administrator, plans equal to the profile):",
    table(
      ["region", ...verdicts],
      summary.regions.map((region) => [
        region,
        ...verdicts.map((verdict) => String(summary.protectionCounts[region]?.[verdict] ?? 0)),
      ]),
    ),
  );
  lines.push(
    "",
    "Outcomes decided by the functions (onboard: the administrator side; accept: the member side):",
  );
  lines.push(
    table(
      ["outcome", "count"],
      Object.entries(summary.outcomes)
        .sort()
        .map(([k, v]) => [k, String(v)]),
    ),
  );
  lines.push("", "By reason:");
  lines.push(
    table(
      ["reason", "count"],
      Object.entries(summary.reasons)
        .sort((a, b) => b[1] - a[1])
        .map(([k, v]) => [k, String(v)]),
    ),
  );
  const byReason = new Map<string, DeadLetter[]>();
  for (const letter of summary.deadLetters)
    byReason.set(letter.reason, [...(byReason.get(letter.reason) ?? []), letter]);
  lines.push("", `Dead-letter queue: ${summary.deadLetters.length} messages`);
  lines.push(
    table(
      ["reason", "count", "example"],
      [...byReason].map(([reason, letters]) => {
        const first = letters[0] as DeadLetter;
        const where = first.accountId ? `${first.accountId} ${first.region ?? ""}: ` : "";
        return [reason, String(letters.length), `${where}${(first.detail ?? "").slice(0, 70)}`];
      }),
    ),
  );
  const actions = new Map(reasonTable().map((row) => [row.reason, row.action]));
  for (const reason of byReason.keys()) {
    const action = actions.get(reason);
    if (action) lines.push(`  ${reason}: ${action}`);
  }
  const guardduty = Object.entries(summary.apiCalls).filter(
    ([op]) => !ORGANIZATIONS_OPERATIONS.has(op) && !STS_OPERATIONS.has(op),
  );
  const organizations = Object.entries(summary.apiCalls).filter(([op]) => ORGANIZATIONS_OPERATIONS.has(op));
  const sts = Object.entries(summary.apiCalls).filter(([op]) => STS_OPERATIONS.has(op));
  const list = (entries: [string, number][]) => entries.map(([op, n]) => `${op} ${n}`).join(", ") || "none";
  lines.push(
    "",
    `API calls: GuardDuty ${sum(guardduty.map(([, n]) => n))} (${list(guardduty)})`,
    `           Organizations ${sum(organizations.map(([, n]) => n))} (${list(organizations)})`,
    `           STS ${sum(sts.map(([, n]) => n))} (${list(sts)}: into member accounts, to accept invitations)`,
    `           throttled ${summary.throttled}, server errors ${summary.serverErrors} (absorbed by SDK retries or the retry queue)`,
    `           denied by IAM ${sum(Object.values(summary.deniedByIam))}${
      Object.keys(summary.deniedByIam).length > 0 ? ` (${list(Object.entries(summary.deniedByIam))})` : ""
    } (every call is checked against its caller's policies from serverless.yml)`,
    `Invitations sent twice to one (account, region): ${summary.duplicateInvitations.length === 0 ? "none" : summary.duplicateInvitations.length}`,
    `Queues at the end: ${Object.entries(summary.queues)
      .map(([name, depth]) => `${name} ${depth.visible + depth.inFlight + depth.delayed}`)
      .join(", ")}`,
  );
  if (summary.coverage) lines.push("", ...renderCoverage(summary.coverage));
  return lines.join("\n");
}

/** The `--drift` block: what was changed, the verdicts before and after the reconcile, the repairs. */
function renderCoverage(coverage: DriftCoverage): string[] {
  const before = coverage.byVerdictBeforeReconcile;
  return [
    `Coverage after --drift and one reconcile: ${coverage.ratio.toFixed(4)} — ${coverage.protected} of ` +
      `${coverage.desired} desired (account, region) pairs protected (${coverage.ratioBeforeReconcile.toFixed(4)} ` +
      "before the reconcile).",
    "Changes made (member changes in one region; departures and the join in every region):",
    table(
      ["account", "change", "region", "members at the end"],
      coverage.changes.map(({ accountId, change, region }) => [
        accountId,
        change,
        region ?? "all",
        coverage.departed[accountId]
          ? Object.values(coverage.departed[accountId]).every((status) => status === "none")
            ? "none (offboarded everywhere)"
            : JSON.stringify(coverage.departed[accountId])
          : "",
      ]),
    ),
    "Verdicts (pairs): measured by the reconcile, repaired by it, at the end:",
    table(
      ["verdict", "before", "repaired", "after"],
      VERDICTS.filter((verdict) => before[verdict] + coverage.byVerdict[verdict] > 0).map((verdict) => [
        verdict,
        String(before[verdict]),
        String(coverage.repairs[verdict] ?? 0),
        String(coverage.byVerdict[verdict]),
      ]),
    ),
  ];
}

const ORGANIZATIONS_OPERATIONS = new Set(["DescribeAccount", "ListAccounts", "DescribeOrganization"]);
const STS_OPERATIONS = new Set(["AssumeRole", "GetCallerIdentity"]);

function table(header: string[], rows: string[][]): string {
  if (rows.length === 0) return "  (none)";
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => (row[column] ?? "").length)),
  );
  const line = (cells: string[]) =>
    `  ${cells.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join("  ")}`.trimEnd();
  return [line(header), ...rows.map(line)].join("\n");
}

function increment(counts: Record<string, number>, key: string): void {
  counts[key] = (counts[key] ?? 0) + 1;
}

function sum(values: Iterable<number> | Readonly<Record<string, number>>): number {
  let total = 0;
  for (const value of Symbol.iterator in values ? (values as Iterable<number>) : Object.values(values))
    total += value;
  return total;
}
