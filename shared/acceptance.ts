import {
  AcceptAdministratorInvitationCommand,
  CreateDetectorCommand,
  GetAdministratorAccountCommand,
  type GuardDutyClient,
  ListInvitationsCommand,
  UpdateDetectorCommand,
} from "@aws-sdk/client-guardduty";
import { AssumeRoleCommand, type STSClient } from "@aws-sdk/client-sts";
import { classifyError } from "./classify.ts";
import type { MemberCredentials } from "./clients.ts";
import { findDetector } from "./guardduty.ts";
import { memberSessionPolicy } from "./member-session.ts";
import type { CellOutcome } from "./outcomes.ts";
import { describeError } from "./privacy.ts";
import { detectorFeatures, type Profile, plansFor } from "./protection.ts";

/**
 * The member side of invitation mode. An invited account is protected only once it has a detector of
 * its own and has accepted the administrator's invitation; until then GuardDuty shows it as Invited and
 * watches nothing. Like the established tools, this step assumes a role in the member account; unlike
 * them, it is its own retryable step: a member that cannot be entered is routed with its own reason
 * and does not hold up the others, and a replay resumes here rather than inviting again.
 */

export interface AcceptanceOptions {
  /** The role every member account lets the administrator assume (member-role/template.yml). */
  readonly roleName: string;
  readonly externalId?: string;
  /** The administrator whose invitation the member accepts. */
  readonly administratorAccountId: string;
  /** `RoleSessionName`, and the SourceIdentity when `sourceIdentity` is on: the function's name. */
  readonly sessionName: string;
  readonly sourceIdentity: boolean;
  /** The plans the member's detector gets (CreateDetector, or UpdateDetector of one that existed). */
  readonly protection: Profile;
}

/** Builds a GuardDuty client in a region that acts as the member (its temporary credentials). */
export type MemberGuardDuty = (region: string, credentials: MemberCredentials) => GuardDutyClient;

/** STS AssumeRole sessions last 15 minutes at least (and here at most): enough for one invocation. */
const SESSION_SECONDS = 900;

export class MemberAcceptance {
  readonly #sts: STSClient;
  readonly #guardduty: MemberGuardDuty;
  readonly #options: AcceptanceOptions;

  constructor(sts: STSClient, guardduty: MemberGuardDuty, options: AcceptanceOptions) {
    this.#sts = sts;
    this.#guardduty = guardduty;
    this.#options = options;
  }

  /**
   * Enters the member account once, then in each region (in parallel): creates the member's detector
   * if it has none, finds the administrator's invitation and accepts it. Outcome `enabled`; every
   * failure carries `step: "accept"` so that its retry or replay starts here.
   */
  async accept(
    accountId: string,
    regions: readonly string[],
    signal?: AbortSignal,
  ): Promise<Map<string, CellOutcome>> {
    const outcomes = new Map<string, CellOutcome>();
    let credentials: MemberCredentials;
    try {
      credentials = await this.#assumeRole(accountId, regions, signal);
    } catch (error) {
      const decision = classifyError(error);
      const refused = decision.reason === "access-denied" || decision.reason === "rejected-by-guardduty";
      // IAM names the policy that refused: the function's own ("no identity-based policy allows"), or
      // the member role's trust (or a role that does not exist), which is the member account's to fix.
      const ownPolicy = /identity-based policy/i.test((error as Error)?.message ?? "");
      const outcome: CellOutcome = {
        outcome: refused ? "dead-letter" : decision.verdict,
        reason: refused ? (ownPolicy ? "access-denied" : "member-role-not-assumable") : decision.reason,
        detail: describeError(error),
        step: "accept",
      };
      for (const region of regions) outcomes.set(region, outcome);
      return outcomes;
    }
    await Promise.all(
      regions.map(async (region) => {
        outcomes.set(region, await this.#acceptIn(this.#guardduty(region, credentials), region, signal));
      }),
    );
    return outcomes;
  }

  /** A session in the member account, able to act only in `regions` (its session policy). */
  async #assumeRole(
    accountId: string,
    regions: readonly string[],
    signal?: AbortSignal,
  ): Promise<MemberCredentials> {
    const partition = (await this.#sts.config.region()).startsWith("cn-") ? "aws-cn" : "aws";
    const { roleName, externalId, sessionName, sourceIdentity } = this.#options;
    const { Credentials } = await this.#sts.send(
      new AssumeRoleCommand({
        RoleArn: `arn:${partition}:iam::${accountId}:role/${roleName}`,
        RoleSessionName: sessionName,
        SourceIdentity: sourceIdentity ? sessionName : undefined,
        ExternalId: externalId,
        DurationSeconds: SESSION_SECONDS,
        // Only the member-side calls, only in the regions accepted now, whatever the role allows
        // (shared/member-session.ts); the stage's regions bound those already (admission).
        Policy: memberSessionPolicy(regions),
      }),
      { abortSignal: signal },
    );
    if (!Credentials?.AccessKeyId || !Credentials.SecretAccessKey) {
      throw Object.assign(new Error("AssumeRole returned no credentials"), { name: "ServiceUnavailable" });
    }
    return {
      accessKeyId: Credentials.AccessKeyId,
      secretAccessKey: Credentials.SecretAccessKey,
      sessionToken: Credentials.SessionToken,
      expiration: Credentials.Expiration,
    };
  }

  /**
   * Idempotent: a call whose answer was lost and that the SDK retried meets "a detector already exists"
   * or "invitationId is not valid" — both are checked against the member's actual state before they
   * count as failures.
   */
  async #acceptIn(client: GuardDutyClient, region: string, signal?: AbortSignal): Promise<CellOutcome> {
    const administrator = this.#options.administratorAccountId;
    const options = { abortSignal: signal };
    const detector = () => findDetector(client, signal);
    const accepted = async (detectorId: string | undefined) => {
      const answer = await client.send(
        new GetAdministratorAccountCommand({ DetectorId: detectorId }),
        options,
      );
      const administratorOf = answer?.Administrator;
      return administratorOf?.AccountId === administrator && administratorOf.RelationshipStatus === "Enabled";
    };
    // Every plan of the profile named, unwanted ones DISABLED: without Features, CreateDetector turns
    // on every optional plan but Runtime Monitoring (CreateDetector's documentation).
    const Features = detectorFeatures(plansFor(this.#options.protection, region));
    try {
      let detectorId = await detector();
      let created = false;
      if (!detectorId) {
        try {
          detectorId = (await client.send(new CreateDetectorCommand({ Enable: true, Features }), options))
            .DetectorId;
          created = detectorId !== undefined;
        } catch (error) {
          detectorId = await detector();
          if (!detectorId) throw error;
        }
      }
      // A detector that was there before (or whose creation answer was lost) is brought to the profile.
      if (!created && detectorId)
        await client.send(new UpdateDetectorCommand({ DetectorId: detectorId, Features }), options);
      const { Invitations = [] } = await client.send(new ListInvitationsCommand({}), options);
      const invitation = Invitations.find((candidate) => candidate.AccountId === administrator);
      if (!invitation?.InvitationId) {
        // No pending invitation: either it was accepted already, or it has not propagated yet.
        if (await accepted(detectorId))
          return { outcome: "already", reason: "already-member", memberStatus: "Enabled" };
        return {
          outcome: "retry",
          reason: "invitation-not-found",
          detail: `no pending invitation from ${administrator} in the member account yet`,
          step: "accept",
        };
      }
      try {
        await client.send(
          new AcceptAdministratorInvitationCommand({
            DetectorId: detectorId,
            AdministratorId: administrator,
            InvitationId: invitation.InvitationId,
          }),
          options,
        );
      } catch (error) {
        if (!(await accepted(detectorId))) throw error;
      }
      return { outcome: "enabled", memberStatus: "Enabled" };
    } catch (error) {
      const { verdict, reason } = classifyError(error);
      return { outcome: verdict, reason, detail: describeError(error), step: "accept" };
    }
  }
}
