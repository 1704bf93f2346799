import {
  DeleteMembersCommand,
  DisassociateMembersCommand,
  type GuardDutyClient,
  type UnprocessedAccount,
} from "@aws-sdk/client-guardduty";
import { classifyError, classifyResult } from "./classify.ts";
import { chunk } from "./concurrency.ts";
import { MAX_ACCOUNTS_PER_CALL } from "./guardduty.ts";
import type { CellOutcome } from "./outcomes.ts";
import { describeError, redact } from "./privacy.ts";

/**
 * Offboarding in one region: a departed or closed account's member is disassociated
 * (`DisassociateMembers`) and then deleted (`DeleteMembers`), ≤ 50 account ids a call (API model).
 * GuardDuty refuses DeleteMembers for a member still associated, hence the order.
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

const OFFBOARDED: CellOutcome = { outcome: "offboarded", detail: "disassociated and deleted" };
const WAS_NO_MEMBER: CellOutcome = { outcome: "offboarded", detail: "not a member in this region" };

export async function removeMembers(
  client: GuardDutyClient,
  detectorId: string,
  accountIds: readonly string[],
  signal?: AbortSignal,
): Promise<Map<string, CellOutcome>> {
  const outcomes = new Map<string, CellOutcome>();
  const gone = new Set<string>();
  const step = async (
    call: "DisassociateMembers" | "DeleteMembers",
    ids: readonly string[],
    send: (part: string[]) => Promise<UnprocessedAccount[] | undefined>,
  ): Promise<string[]> => {
    const passed: string[] = [];
    for (const part of chunk(ids, MAX_ACCOUNTS_PER_CALL)) {
      try {
        const unprocessed = new Map((await send(part))?.map((entry) => [entry.AccountId, entry.Result]));
        for (const id of part) {
          const verdict = unprocessed.has(id) ? judge(unprocessed.get(id), call) : undefined;
          if (verdict === undefined) passed.push(id);
          else if (verdict === "gone") gone.add(id);
          else outcomes.set(id, verdict);
        }
      } catch (error) {
        const { verdict, reason } = classifyError(error);
        for (const id of part)
          outcomes.set(id, { outcome: verdict, reason, detail: `${call}: ${describeError(error)}` });
      }
    }
    return passed;
  };

  const disassociated = await step("DisassociateMembers", accountIds, async (part) => {
    const answer = await client.send(
      new DisassociateMembersCommand({ DetectorId: detectorId, AccountIds: part }),
      { abortSignal: signal },
    );
    return answer.UnprocessedAccounts;
  });
  // A member that was not associated (Created, Invited, Removed…) is deleted all the same.
  const toDelete = [...disassociated, ...[...gone].filter((id) => !outcomes.has(id))];
  gone.clear();
  const deleted = await step("DeleteMembers", toDelete, async (part) => {
    const answer = await client.send(new DeleteMembersCommand({ DetectorId: detectorId, AccountIds: part }), {
      abortSignal: signal,
    });
    return answer.UnprocessedAccounts;
  });
  for (const id of deleted) outcomes.set(id, OFFBOARDED);
  for (const id of gone) outcomes.set(id, disassociated.includes(id) ? OFFBOARDED : WAS_NO_MEMBER);
  return outcomes;
}
