/**
 * When each invitation went out and when each member became Enabled, as GuardDuty itself records them
 * (`invitedAt` and, for an Enabled member, `updatedAt` of GetMembers), read from the sandbox with the
 * unmodified SDK and the administrator's key after a run. The sandbox stamps a member record's
 * `updatedAt` at its last status change (sandbox/guardduty-state.ts), so for an Enabled member it is
 * the moment the member accepted; it stamps both with the clock the bench stamps publications with, so
 * event → invitation and event → Enabled need no clock alignment. In organization mode there is no
 * invitation: an Enabled member's `updatedAt` (CreateMembers) counts as both.
 */
import { GetMembersCommand, GuardDutyClient, ListDetectorsCommand } from "@aws-sdk/client-guardduty";
import { ADMINISTRATOR_ACCESS_KEY_ID } from "../sandbox/identity.ts";
import type { Sandbox } from "../sandbox/server.ts";
import { IDS_PER_GUARDDUTY_CALL } from "./lower-bound.ts";

export interface MemberTimes {
  /** `${accountId}/${region}` → invitation time (epoch ms), for every member that was invited. */
  readonly invitedAt: Map<string, number>;
  /** `${accountId}/${region}` → when it became Enabled (epoch ms), for every member Enabled now. */
  readonly enabledAt: Map<string, number>;
}

/**
 * Clears the sandbox's faults first so the reads are neither throttled nor delayed: take the counters'
 * snapshot before calling this.
 */
export async function memberTimes(
  sandbox: Sandbox,
  accounts: readonly string[],
  regions: readonly string[],
  mode: "invitation" | "organization" = "invitation",
): Promise<MemberTimes> {
  sandbox.setFaults({});
  const invitedAt = new Map<string, number>();
  const enabledAt = new Map<string, number>();
  for (const region of regions) {
    const client = new GuardDutyClient({
      endpoint: sandbox.url,
      region,
      credentials: { accessKeyId: ADMINISTRATOR_ACCESS_KEY_ID, secretAccessKey: "local" },
    });
    const { DetectorIds = [] } = await client.send(new ListDetectorsCommand({}));
    const detectorId = DetectorIds[0];
    if (!detectorId) continue;
    for (let start = 0; start < accounts.length; start += IDS_PER_GUARDDUTY_CALL) {
      const { Members = [] } = await client.send(
        new GetMembersCommand({
          DetectorId: detectorId,
          AccountIds: accounts.slice(start, start + IDS_PER_GUARDDUTY_CALL),
        }),
      );
      for (const member of Members) {
        if (!member.AccountId) continue;
        const pair = `${member.AccountId}/${region}`;
        const invited = member.InvitedAt ? Date.parse(member.InvitedAt) : Number.NaN;
        if (Number.isFinite(invited)) invitedAt.set(pair, invited);
        const updated = member.UpdatedAt ? Date.parse(member.UpdatedAt) : Number.NaN;
        if (member.RelationshipStatus === "Enabled" && Number.isFinite(updated)) {
          enabledAt.set(pair, updated);
          // Organization mode sends no invitation: the administrator side ends with the Enabled member.
          if (mode === "organization" && !invitedAt.has(pair)) invitedAt.set(pair, updated);
        }
      }
    }
    client.destroy();
  }
  return { invitedAt, enabledAt };
}
