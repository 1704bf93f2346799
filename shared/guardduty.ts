import {
  DescribeOrganizationConfigurationCommand,
  GetMembersCommand,
  type GuardDutyClient,
  ListDetectorsCommand,
  ListMembersCommand,
  type Member,
} from "@aws-sdk/client-guardduty";
import { chunk } from "./concurrency.ts";

/**
 * The facts about GuardDuty the project relies on, in one place (GuardDuty API model, botocore
 * `guardduty/2017-11-28`, and the GuardDuty User Guide): limits, paging, the detector lookup and the
 * relationship statuses. Every module that calls GuardDuty reads them here.
 */

/** CreateMembers takes 1–50 AccountDetails; InviteMembers, GetMembers, DeleteMembers… 1–50 AccountIds. */
export const MAX_ACCOUNTS_PER_CALL = 50;
/** ListMembers and ListDetectors return at most 50 items a page (`MaxResults` 1–50). */
export const PAGE_SIZE = 50;

/** `RelationshipStatus` as the administrator sees a member (ListMembers, GetMembers). */
export type RelationshipStatus =
  | "Created"
  | "EmailVerificationInProgress"
  | "EmailVerificationFailed"
  | "Invited"
  | "Enabled"
  | "Disabled"
  | "Resigned"
  | "Removed";

/**
 * Statuses in which a member needs no (new) invitation: it was invited and the invitation is pending or
 * being e-mailed, or it is associated. `Created`, `Removed`, `Resigned` and `EmailVerificationFailed`
 * need one (the last after DeleteMembers and CreateMembers again).
 */
export const NEEDS_NO_INVITATION: ReadonlySet<string> = new Set<RelationshipStatus>([
  "Invited",
  "EmailVerificationInProgress",
  "Enabled",
  "Disabled",
]);

/** The status counted for an account the administrator does not list at all in a region. */
export const NOT_A_MEMBER = "not-a-member";

/** The caller's detector in the client's region; undefined where GuardDuty is not enabled (one per region). */
export async function findDetector(
  client: GuardDutyClient,
  signal?: AbortSignal,
): Promise<string | undefined> {
  const { DetectorIds = [] } = await client.send(new ListDetectorsCommand({}), { abortSignal: signal });
  return DetectorIds[0];
}

/** One ListMembers page from `nextToken` (absent: the first), associated or not, and the next page's token. */
export async function listMembersPage(
  client: GuardDutyClient,
  detectorId: string,
  nextToken: string | undefined,
  signal?: AbortSignal,
): Promise<{ readonly members: Member[]; readonly nextToken?: string }> {
  const page = await client.send(
    new ListMembersCommand({
      DetectorId: detectorId,
      OnlyAssociated: "false",
      MaxResults: PAGE_SIZE,
      NextToken: nextToken,
    }),
    { abortSignal: signal },
  );
  return { members: page.Members ?? [], nextToken: page.NextToken };
}

/**
 * Every member of the detector, associated or not (`OnlyAssociated: "false"`: the API's default lists
 * only associated ones), page by page.
 */
export async function* listMembers(
  client: GuardDutyClient,
  detectorId: string,
  signal?: AbortSignal,
): AsyncGenerator<Member[]> {
  let nextToken: string | undefined;
  do {
    const page = await listMembersPage(client, detectorId, nextToken, signal);
    yield page.members;
    nextToken = page.nextToken;
  } while (nextToken);
}

/** The members among `accountIds`, ≤ 50 a call; those GuardDuty does not know are absent from the answer. */
export async function getMembers(
  client: GuardDutyClient,
  detectorId: string,
  accountIds: readonly string[],
  signal?: AbortSignal,
): Promise<Member[]> {
  const members: Member[] = [];
  for (const part of chunk(accountIds, MAX_ACCOUNTS_PER_CALL)) {
    const { Members = [] } = await client.send(
      new GetMembersCommand({ DetectorId: detectorId, AccountIds: part }),
      { abortSignal: signal },
    );
    members.push(...Members);
  }
  return members;
}

/** What the project reads of DescribeOrganizationConfiguration. */
export interface OrganizationFacts {
  readonly memberAccountLimitReached: boolean;
  /** Each feature's auto-enable for the organization's members (`NEW`, `ALL`, `NONE`). */
  readonly autoEnable: ReadonlyMap<string, string>;
}

/**
 * Whether the caller is the organization's GuardDuty delegated administrator in the client's region, and
 * whether it may add members: DescribeOrganizationConfiguration answers only the delegated administrator
 * (others get a BadRequestException, see `classifyDelegationError`), with `MemberAccountLimitReached` and
 * the features' auto-enable. ListOrganizationAdminAccounts would say more, but only the management
 * account may call it (model documentation), so the stack's account cannot. Its callers keep what they
 * need of it for the container's life: the delegation check (`members.ts`) and the profile check
 * (`member-protection.ts`), one call each per region.
 */
export async function describeOrganization(
  client: GuardDutyClient,
  detectorId: string,
  signal?: AbortSignal,
): Promise<OrganizationFacts> {
  const answer = await client.send(new DescribeOrganizationConfigurationCommand({ DetectorId: detectorId }), {
    abortSignal: signal,
  });
  return {
    memberAccountLimitReached: answer?.MemberAccountLimitReached === true,
    autoEnable: new Map(
      (answer?.Features ?? []).map((feature) => [feature.Name ?? "", feature.AutoEnable ?? "NONE"]),
    ),
  };
}
