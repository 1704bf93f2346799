/**
 * When each invitation went out, as GuardDuty itself records it (`invitedAt` of GetMembers), read from
 * the sandbox with the unmodified SDK after a run. The sandbox stamps it with the same clock the bench
 * stamps publications with, so event → invitation needs no clock alignment.
 */
import { GetMembersCommand, GuardDutyClient, ListDetectorsCommand } from "@aws-sdk/client-guardduty";
import { ADMINISTRATOR_ACCESS_KEY_ID } from "../sandbox/identity.ts";
import type { Sandbox } from "../sandbox/server.ts";
import { IDS_PER_GUARDDUTY_CALL } from "./lower-bound.ts";

/**
 * `${accountId}/${region}` → invitation time (epoch ms) for every member that was invited. Clears the
 * sandbox's faults first so the reads are neither throttled nor delayed: take the counters' snapshot
 * before calling this.
 */
export async function invitationTimes(
  sandbox: Sandbox,
  accounts: readonly string[],
  regions: readonly string[],
): Promise<Map<string, number>> {
  sandbox.setFaults({});
  const times = new Map<string, number>();
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
        const at = member.InvitedAt ? Date.parse(member.InvitedAt) : Number.NaN;
        if (member.AccountId && Number.isFinite(at)) times.set(`${member.AccountId}/${region}`, at);
      }
    }
    client.destroy();
  }
  return times;
}
