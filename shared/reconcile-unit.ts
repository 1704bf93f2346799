import * as z from "zod/mini";
import { InvalidMessageError } from "./errors.ts";
import { ACCOUNT_ID_PATTERN, REGION_PATTERN } from "./ids.ts";

/**
 * The message contract of ReconcileQueue: one bounded unit of a reconcile run (README, "Scheduled
 * reconciliation"). A run is a chain of `accounts` units, each listing the next stretch of the organization
 * from the previous one's `NextToken`, one `pairs` unit per chunk of accounts it listed, each judging
 * those accounts in the run's regions, and, once the organization is listed, `members` units that list
 * each region's members for those whose account has left (`departed-members.ts`). A unit that runs out of
 * time hands what is left on as a unit of the same kind, so no invocation runs long however large the
 * organization is.
 */

/** Accounts a listing unit gathers into one chunk: 50 ListAccounts pages of 20, 20 GetMembers of 50 a region. */
export const ACCOUNTS_PER_CHUNK = 1_000;

const region = z.string().check(z.regex(REGION_PATTERN, "must be a region name"));
const accountId = z.string().check(z.regex(ACCOUNT_ID_PATTERN, "must be 12 ASCII digits"));
const common = {
  version: z.literal(1),
  /** The run: the schedule's event id. */
  runId: z.string().check(z.minLength(1), z.maxLength(128)),
  /** The run's regions, fixed when it started (with `regions: all`, as discovered then). */
  regions: z.array(region).check(z.minLength(1)),
  /** The chunk this unit makes (`accounts`) or judges (`pairs`); a `members` unit's place in its chain. From 0. */
  chunk: z.int().check(z.minimum(0)),
};

export const ReconcileUnitSchema = z.discriminatedUnion("kind", [
  z.object({
    ...common,
    kind: z.literal("accounts"),
    /** ListAccounts' token where this stretch starts; absent: the first page. */
    nextToken: z.optional(z.string()),
  }),
  z.object({
    ...common,
    kind: z.literal("pairs"),
    /** The chunk's desired accounts: active, not the administrator. */
    accounts: z.array(accountId),
    /** The regions still to judge for this chunk (a continuation carries fewer than the run's). */
    pending: z.array(region).check(z.minLength(1)),
  }),
  z.object({
    ...common,
    kind: z.literal("members"),
    /** The regions whose members are still to list, each from its ListMembers token (absent: the first page). */
    scans: z.array(z.object({ region, nextToken: z.optional(z.string()) })).check(z.minLength(1)),
  }),
]);

export type ReconcileUnit = z.output<typeof ReconcileUnitSchema>;
export type AccountsUnit = Extract<ReconcileUnit, { kind: "accounts" }>;
export type PairsUnit = Extract<ReconcileUnit, { kind: "pairs" }>;
export type MembersUnit = Extract<ReconcileUnit, { kind: "members" }>;

/** Parses one ReconcileQueue body; anything else is an {@link InvalidMessageError}. */
export function parseUnit(body: string): ReconcileUnit {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    throw new InvalidMessageError("the body is not JSON");
  }
  const parsed = ReconcileUnitSchema.safeParse(json);
  if (!parsed.success)
    throw new InvalidMessageError(
      `not a reconcile unit: ${parsed.error.issues.map((issue) => `${issue.path.join(".") || "(body)"} ${issue.message}`).join("; ")}`,
    );
  return parsed.data;
}

/** Whether a message body is a reconcile unit (the dead-letter tooling shows these as such). */
export function isReconcileUnit(body: string): boolean {
  try {
    return ReconcileUnitSchema.safeParse(JSON.parse(body)).success;
  } catch {
    return false;
  }
}
