import {
  DeleteMembersCommand,
  DisassociateMembersCommand,
  type GuardDutyClient,
  type UnprocessedAccount,
} from "@aws-sdk/client-guardduty";
import { classifyError, classifyResult } from "./classify.ts";
import { chunk } from "./concurrency.ts";
import { getMembers, MAX_ACCOUNTS_PER_CALL, type RelationshipStatus } from "./guardduty.ts";
import type { CellOutcome } from "./outcomes.ts";
import { describeError, redact } from "./privacy.ts";

/**
 * Offboarding in one region: a departed or closed account's member is disassociated
 * (`DisassociateMembers`) and then deleted (`DeleteMembers`), ≤ 50 account ids a call (API model).
 * GuardDuty refuses DeleteMembers for a member still associated, hence the order. The repair of a
 * member whose invitation e-mail failed verification deletes it too (`deleteUnverifiedMembers`).
 *
 * Per-account answers are classified like every other call (`classify.ts`), with two texts of their own:
 * - "…not associated with the current account…": no member here (never was, or removed before): the
 *   account is `offboarded` all the same — removal is idempotent.
 * - an organization whose auto-enable is `ALL` forbids both calls for its members (GuardDuty User Guide;
 *   the wording is not published, so the pattern is loose): `skipped` as `auto-enable-all-keeps-member`,
 *   not a failure — GuardDuty itself removes the member when the account leaves the organization.
 */

const NOT_A_MEMBER = /not associated with the current account|is not a member|member .*not found/i;
const AUTO_ENABLE_ALL = /auto-?enable[\s\S]*\bALL\b|\bALL\b[\s\S]*auto-?enable/i;

export const AUTO_ENABLE_ALL_KEEPS_MEMBER = "auto-enable-all-keeps-member";

/** What one account's answer to a removal call means: go on (`undefined`), or its final outcome. */
function judge(result: string | undefined, call: string): CellOutcome | "gone" {
  const text = result ?? "(no result text)";
  if (AUTO_ENABLE_ALL.test(text))
    return { outcome: "skipped", reason: AUTO_ENABLE_ALL_KEEPS_MEMBER, detail: `${call}: ${redact(text)}` };
  if (NOT_A_MEMBER.test(text)) return "gone";
  const { verdict, reason } = classifyResult(text);
  return { outcome: verdict, reason, detail: `${call}: ${redact(text)}` };
}

const EMAIL_VERIFICATION_FAILED: RelationshipStatus = "EmailVerificationFailed";

const OFFBOARDED: CellOutcome = { outcome: "offboarded", detail: "disassociated and deleted" };
const WAS_NO_MEMBER: CellOutcome = { outcome: "offboarded", detail: "not a member in this region" };

/** Which accounts one removal call passed, which had no member, and the final outcomes of the others. */
interface Answers {
  readonly passed: string[];
  readonly gone: Set<string>;
  readonly failed: Map<string, CellOutcome>;
}

type Removal = "DisassociateMembers" | "DeleteMembers";

/** One removal call over `ids`, ≤ 50 a call, each account's answer judged. */
async function removeInChunks(
  call: Removal,
  ids: readonly string[],
  send: (part: string[]) => Promise<UnprocessedAccount[] | undefined>,
): Promise<Answers> {
  const answers: Answers = { passed: [], gone: new Set(), failed: new Map() };
  for (const part of chunk(ids, MAX_ACCOUNTS_PER_CALL)) {
    try {
      const unprocessed = new Map((await send(part))?.map((entry) => [entry.AccountId, entry.Result]));
      for (const id of part) {
        const verdict = unprocessed.has(id) ? judge(unprocessed.get(id), call) : undefined;
        if (verdict === undefined) answers.passed.push(id);
        else if (verdict === "gone") answers.gone.add(id);
        else answers.failed.set(id, verdict);
      }
    } catch (error) {
      const { verdict, reason } = classifyError(error);
      for (const id of part)
        answers.failed.set(id, { outcome: verdict, reason, detail: `${call}: ${describeError(error)}` });
    }
  }
  return answers;
}

const disassociate =
  (client: GuardDutyClient, detectorId: string, signal?: AbortSignal) => async (part: string[]) =>
    (
      await client.send(new DisassociateMembersCommand({ DetectorId: detectorId, AccountIds: part }), {
        abortSignal: signal,
      })
    ).UnprocessedAccounts;

const remove =
  (client: GuardDutyClient, detectorId: string, signal?: AbortSignal) => async (part: string[]) =>
    (
      await client.send(new DeleteMembersCommand({ DetectorId: detectorId, AccountIds: part }), {
        abortSignal: signal,
      })
    ).UnprocessedAccounts;

export async function removeMembers(
  client: GuardDutyClient,
  detectorId: string,
  accountIds: readonly string[],
  signal?: AbortSignal,
): Promise<Map<string, CellOutcome>> {
  const disassociated = await removeInChunks(
    "DisassociateMembers",
    accountIds,
    disassociate(client, detectorId, signal),
  );
  const outcomes = new Map(disassociated.failed);
  // A member that was not associated (Created, Invited, Removed…) is deleted all the same.
  const toDelete = [...disassociated.passed, ...disassociated.gone];
  const deleted = await removeInChunks("DeleteMembers", toDelete, remove(client, detectorId, signal));
  for (const [id, outcome] of deleted.failed) outcomes.set(id, outcome);
  for (const id of deleted.passed) outcomes.set(id, OFFBOARDED);
  for (const id of deleted.gone)
    outcomes.set(id, disassociated.passed.includes(id) ? OFFBOARDED : WAS_NO_MEMBER);
  return outcomes;
}

/**
 * The first half of the repair of `EmailVerificationFailed` (GuardDuty User Guide: DeleteMembers, then
 * CreateMembers with the right e-mail, then InviteMembers): of `accountIds`, only the members GetMembers
 * shows `EmailVerificationFailed` now are deleted (≤ 50 ids a call). A member in any other state —
 * someone fixed it, or an earlier attempt of this request already deleted and created it again — is left
 * as it is, and an account with no member (deleted before: a redelivery) has nothing to delete. Answers
 * an outcome, resuming at `recreate`, only for the accounts that cannot go on; onboarding follows for the
 * rest. An unverifiable member is never associated, so no DisassociateMembers is needed first.
 */
export async function deleteUnverifiedMembers(
  client: GuardDutyClient,
  detectorId: string,
  accountIds: readonly string[],
  signal?: AbortSignal,
): Promise<Map<string, CellOutcome>> {
  const outcomes = new Map<string, CellOutcome>();
  let unverified: string[];
  try {
    unverified = (await getMembers(client, detectorId, accountIds, signal))
      .filter((member) => member.RelationshipStatus === EMAIL_VERIFICATION_FAILED)
      .map((member) => member.AccountId as string);
  } catch (error) {
    const { verdict, reason } = classifyError(error);
    const failed: CellOutcome = {
      outcome: verdict,
      reason,
      detail: `GetMembers: ${describeError(error)}`,
      step: "recreate",
    };
    return new Map(accountIds.map((id) => [id, failed]));
  }
  const deleted = await removeInChunks("DeleteMembers", unverified, remove(client, detectorId, signal));
  for (const [id, outcome] of deleted.failed) outcomes.set(id, { ...outcome, step: "recreate" });
  return outcomes;
}
