import {
  AcceptAdministratorInvitationCommand,
  CreateDetectorCommand,
  CreateMembersCommand,
  DeclineInvitationsCommand,
  DeleteDetectorCommand,
  DeleteMembersCommand,
  DisassociateFromAdministratorAccountCommand,
  GetDetectorCommand,
  GuardDutyClient,
  InviteMembersCommand,
  ListDetectorsCommand,
  ListInvitationsCommand,
  StartMonitoringMembersCommand,
  StopMonitoringMembersCommand,
  UpdateDetectorCommand,
} from "@aws-sdk/client-guardduty";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GuardDutyText } from "../../sandbox/guardduty-state.ts";
import { ADMINISTRATOR_ACCESS_KEY_ID } from "../../sandbox/identity.ts";
import { type Sandbox, startSandbox } from "../../sandbox/server.ts";

/**
 * Every relationship state an administrator can see, produced by the calls that produce it in GuardDuty:
 * so that a reconciliation, an operator's cleanup and the pipeline's own repairs can meet them locally.
 */
const REGION = "us-east-1";
const VERIFICATION_MS = 300;
let sandbox: Sandbox;
const clients: GuardDutyClient[] = [];
let next = 100_000_000_000;

beforeAll(async () => {
  sandbox = await startSandbox({
    seed: 9,
    emailVerificationMs: VERIFICATION_MS,
    emailVerificationFailures: ["777777777777"],
  });
});

afterAll(async () => {
  for (const client of clients) client.destroy();
  await sandbox.close();
});

function guardDuty(accessKeyId: string): GuardDutyClient {
  const client = new GuardDutyClient({
    region: REGION,
    endpoint: sandbox.url,
    credentials: { accessKeyId, secretAccessKey: "x" },
    maxAttempts: 1,
  });
  clients.push(client);
  return client;
}

const administrator = () => guardDuty(ADMINISTRATOR_ACCESS_KEY_ID);
const detector = async (client: GuardDutyClient) =>
  (await client.send(new ListDetectorsCommand({}))).DetectorIds?.[0] as string;

/**
 * A new account of the organization, made a member (with `address`, by default a deliverable one) and
 * invited (without e-mail unless asked).
 */
async function invited(
  options: { accountId?: string; email?: boolean; address?: (accountId: string) => string } = {},
): Promise<string> {
  const accountId = options.accountId ?? String(next++);
  sandbox.addAccounts([{ id: accountId }]);
  const DetectorId = await detector(administrator());
  await administrator().send(
    new CreateMembersCommand({
      DetectorId,
      AccountDetails: [
        { AccountId: accountId, Email: options.address?.(accountId) ?? `a-${accountId}@example.com` },
      ],
    }),
  );
  await administrator().send(
    new InviteMembersCommand({
      DetectorId,
      AccountIds: [accountId],
      DisableEmailNotification: !options.email,
    }),
  );
  return accountId;
}

/** The member's own client, with a detector of its own, having accepted the invitation. */
async function enabled(): Promise<{ accountId: string; member: GuardDutyClient; memberDetector: string }> {
  const accountId = await invited();
  sandbox.registerCredentials(`member-${accountId}`, accountId);
  const member = guardDuty(`member-${accountId}`);
  const { DetectorId } = await member.send(new CreateDetectorCommand({ Enable: true }));
  const { Invitations = [] } = await member.send(new ListInvitationsCommand({}));
  await member.send(
    new AcceptAdministratorInvitationCommand({
      DetectorId,
      AdministratorId: Invitations[0]?.AccountId,
      InvitationId: Invitations[0]?.InvitationId,
    }),
  );
  return { accountId, member, memberDetector: DetectorId as string };
}

describe("relationship states", () => {
  it("shows EmailVerificationInProgress while GuardDuty e-mails the member, then Invited", async () => {
    const accountId = await invited({ email: true });

    expect(sandbox.status(accountId, REGION)).toBe("EmailVerificationInProgress");
    await new Promise((resolve) => setTimeout(resolve, VERIFICATION_MS + 50));
    expect(sandbox.status(accountId, REGION)).toBe("Invited");
  });

  it("shows EmailVerificationFailed when the member's e-mail cannot be verified, and refuses a new invitation", async () => {
    const accountId = await invited({ accountId: "777777777777", email: true });
    await new Promise((resolve) => setTimeout(resolve, VERIFICATION_MS + 50));
    const DetectorId = await detector(administrator());

    const again = await administrator().send(
      new InviteMembersCommand({ DetectorId, AccountIds: [accountId] }),
    );

    expect(sandbox.status(accountId, REGION)).toBe("EmailVerificationFailed");
    expect(again.UnprocessedAccounts).toEqual([
      { AccountId: accountId, Result: GuardDutyText.emailVerificationFailed },
    ]);
  });

  it("fails the verification of an address no mail reaches, and verifies the account's own once the member is created again", async () => {
    // Prepare: a member created with an address under the reserved domain .invalid, invited with e-mail.
    const accountId = await invited({ email: true, address: (id) => `acct-${id}@example.invalid` });
    await new Promise((resolve) => setTimeout(resolve, VERIFICATION_MS + 50));
    const failed = sandbox.status(accountId, REGION);
    const DetectorId = await detector(administrator());

    // Act: the User Guide's repair — DeleteMembers, CreateMembers with the account's e-mail, InviteMembers.
    const deleted = await administrator().send(
      new DeleteMembersCommand({ DetectorId, AccountIds: [accountId] }),
    );
    await administrator().send(
      new CreateMembersCommand({
        DetectorId,
        AccountDetails: [
          {
            AccountId: accountId,
            Email: sandbox.accounts().find(({ id }) => id === accountId)?.email as string,
          },
        ],
      }),
    );
    await administrator().send(new InviteMembersCommand({ DetectorId, AccountIds: [accountId] }));
    await new Promise((resolve) => setTimeout(resolve, VERIFICATION_MS + 50));

    // Assess
    expect(failed).toBe("EmailVerificationFailed");
    expect(deleted.UnprocessedAccounts).toEqual([]);
    expect(sandbox.status(accountId, REGION)).toBe("Invited");
  });

  it("shows Disabled while the administrator stops monitoring, and Enabled once it starts again", async () => {
    const { accountId } = await enabled();
    const DetectorId = await detector(administrator());

    await administrator().send(new StopMonitoringMembersCommand({ DetectorId, AccountIds: [accountId] }));
    const stopped = sandbox.status(accountId, REGION);
    await administrator().send(new StartMonitoringMembersCommand({ DetectorId, AccountIds: [accountId] }));

    expect(stopped).toBe("Disabled");
    expect(sandbox.status(accountId, REGION)).toBe("Enabled");
  });

  it("shows Disabled while the member suspends its detector", async () => {
    const { accountId, member, memberDetector } = await enabled();

    await member.send(new UpdateDetectorCommand({ DetectorId: memberDetector, Enable: false }));

    expect(sandbox.status(accountId, REGION)).toBe("Disabled");
    expect((await member.send(new GetDetectorCommand({ DetectorId: memberDetector }))).Status).toBe(
      "DISABLED",
    );
  });

  it("shows Resigned when the member disassociates itself", async () => {
    const { accountId, member, memberDetector } = await enabled();

    await member.send(new DisassociateFromAdministratorAccountCommand({ DetectorId: memberDetector }));

    expect(sandbox.status(accountId, REGION)).toBe("Resigned");
  });

  it("shows Removed when the member deletes its detector", async () => {
    const { accountId, member, memberDetector } = await enabled();

    await member.send(new DeleteDetectorCommand({ DetectorId: memberDetector }));

    expect(sandbox.status(accountId, REGION)).toBe("Removed");
    expect(sandbox.detectorId(accountId, REGION)).toBeUndefined();
  });

  it("shows Removed when the member declines the invitation", async () => {
    const accountId = await invited();
    sandbox.registerCredentials(`member-${accountId}`, accountId);

    await guardDuty(`member-${accountId}`).send(
      new DeclineInvitationsCommand({ AccountIds: [sandbox.administratorAccountId] }),
    );

    expect(sandbox.status(accountId, REGION)).toBe("Removed");
  });
});

describe("what GuardDuty refuses", () => {
  it("does not delete a member that is still associated", async () => {
    const { accountId } = await enabled();
    const DetectorId = await detector(administrator());

    const answer = await administrator().send(
      new DeleteMembersCommand({ DetectorId, AccountIds: [accountId] }),
    );

    expect(answer.UnprocessedAccounts).toEqual([
      { AccountId: accountId, Result: GuardDutyText.stillAssociated },
    ]);
    expect(sandbox.status(accountId, REGION)).toBe("Enabled");
  });

  it("does not delete an administrator's detector while it has members", async () => {
    await enabled();
    const DetectorId = await detector(administrator());

    await expect(administrator().send(new DeleteDetectorCommand({ DetectorId }))).rejects.toMatchObject({
      name: "BadRequestException",
      message: GuardDutyText.detectorHasMembers,
    });
  });
});
