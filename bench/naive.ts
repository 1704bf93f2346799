/**
 * The naive baseline: the per-account script people run today, kept here only as the yardstick the
 * pipeline is measured against. One account at a time, one account per call, no coalescing: for each
 * account DescribeAccount (its e-mail), then in each region CreateMembers([it]) and InviteMembers([it]).
 * It uses the SDK's default client settings, like a script would, and reads each region's detector id
 * once. It ignores `UnprocessedAccounts` and logs errors without retrying them, as such scripts do; the
 * count of such failures is reported so that a baseline that "won" by skipping work would show.
 */

import {
  CreateMembersCommand,
  GuardDutyClient,
  InviteMembersCommand,
  ListDetectorsCommand,
} from "@aws-sdk/client-guardduty";
import { DescribeAccountCommand, OrganizationsClient } from "@aws-sdk/client-organizations";
import { ADMINISTRATOR_ACCESS_KEY_ID } from "../sandbox/identity.ts";

export class NaiveOnboarding {
  readonly #organizations: OrganizationsClient;
  readonly #guardduty: Map<string, GuardDutyClient>;
  readonly #detectors = new Map<string, string>();
  /** Calls that ended in an error or an unprocessed account (the script moves on). */
  failures = 0;

  /** Organization mode: the delegated administrator's CreateMembers alone enables; nothing to invite. */
  readonly #organizationMode: boolean;

  constructor(
    endpoint: string,
    regions: readonly string[],
    mode: "invitation" | "organization" = "invitation",
  ) {
    this.#organizationMode = mode === "organization";
    // The administrator's own user runs the script (full access in its account).
    const common = {
      endpoint,
      credentials: { accessKeyId: ADMINISTRATOR_ACCESS_KEY_ID, secretAccessKey: "local" },
    };
    this.#organizations = new OrganizationsClient({ ...common, region: "us-east-1" });
    this.#guardduty = new Map(regions.map((region) => [region, new GuardDutyClient({ ...common, region })]));
  }

  /** The administrator's detector in every region, once, as a script does before its loop. */
  async prepare(): Promise<void> {
    for (const [region, client] of this.#guardduty) {
      const { DetectorIds = [] } = await client.send(new ListDetectorsCommand({}));
      if (DetectorIds[0]) this.#detectors.set(region, DetectorIds[0]);
    }
  }

  async onboard(accountId: string): Promise<void> {
    let email: string | undefined;
    try {
      const { Account } = await this.#organizations.send(
        new DescribeAccountCommand({ AccountId: accountId }),
      );
      email = Account?.Email;
    } catch {
      this.failures++;
      return;
    }
    for (const [region, client] of this.#guardduty) {
      const DetectorId = this.#detectors.get(region);
      if (!DetectorId || !email) continue;
      try {
        const created = await client.send(
          new CreateMembersCommand({ DetectorId, AccountDetails: [{ AccountId: accountId, Email: email }] }),
        );
        const invited: { UnprocessedAccounts?: readonly unknown[] } = this.#organizationMode
          ? {}
          : await client.send(
              new InviteMembersCommand({
                DetectorId,
                AccountIds: [accountId],
                DisableEmailNotification: true,
              }),
            );
        this.failures +=
          (created.UnprocessedAccounts?.length ?? 0) + (invited.UnprocessedAccounts?.length ?? 0);
      } catch {
        this.failures++;
      }
    }
  }

  destroy(): void {
    this.#organizations.destroy();
    for (const client of this.#guardduty.values()) client.destroy();
  }
}
