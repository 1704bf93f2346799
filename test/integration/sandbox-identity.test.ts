import { GuardDutyClient, ListDetectorsCommand } from "@aws-sdk/client-guardduty";
import { ListAccountsCommand, OrganizationsClient } from "@aws-sdk/client-organizations";
import { AssumeRoleCommand, GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { memberSessionPolicy } from "#shared/member-session";
import { ADMINISTRATOR_ACCESS } from "../../sandbox/iam.ts";
import { ADMINISTRATOR_ACCESS_KEY_ID, organizationAccountAccessRole } from "../../sandbox/identity.ts";
import type { OrgAccount } from "../../sandbox/scenario.ts";
import { type Sandbox, startSandbox } from "../../sandbox/server.ts";

/**
 * Identity and trust as AWS has them: keys the sandbox never issued are refused, GetCallerIdentity
 * answers, AssumeRole is decided by the caller's policy and the role's trust policy, sessions last no
 * longer than the role allows, a session policy narrows a session, and regions an account has not opted
 * in to do not know its credentials.
 */
const MANAGEMENT = "111111111111";
const ADMINISTRATOR = "222222222222";
const MEMBER = "333333333333";
const OUTSIDER = "444444444444";
let sandbox: Sandbox;
const clients: { destroy(): void }[] = [];

/** A role every member holds: trusts the administrator's `onboard` role, lets it set a SourceIdentity. */
const trustingRole = (account: OrgAccount) =>
  account.id === ADMINISTRATOR
    ? undefined
    : {
        name: "Trusting",
        maxSessionDurationSeconds: 3600,
        trustPolicy: {
          Version: "2012-10-17",
          Statement: [
            {
              Effect: "Allow",
              Principal: { AWS: `arn:aws:iam::${ADMINISTRATOR}:root` },
              Action: ["sts:AssumeRole", "sts:SetSourceIdentity"],
              Condition: { ArnEquals: { "aws:PrincipalArn": `arn:aws:iam::${ADMINISTRATOR}:role/onboard` } },
            },
          ],
        },
        policies: [ADMINISTRATOR_ACCESS],
      };

beforeAll(async () => {
  sandbox = await startSandbox({
    seed: 5,
    accountCount: 2,
    managementAccountId: MANAGEMENT,
    administratorAccountId: ADMINISTRATOR,
    accounts: [{ id: MEMBER }],
    memberRoles: [organizationAccountAccessRole(MANAGEMENT), trustingRole],
    enabledOptInRegions: { [MEMBER]: ["af-south-1"] },
    credentials: { "management-key": MANAGEMENT, "member-key": MEMBER, "outsider-key": OUTSIDER },
    principals: {
      "onboard-key": {
        accountId: ADMINISTRATOR,
        roleName: "onboard",
        sessionName: "guardduty-onboarding-test-onboard",
        policies: [
          {
            Version: "2012-10-17",
            Statement: [
              { Effect: "Allow", Action: ["sts:AssumeRole", "sts:SetSourceIdentity"], Resource: "*" },
            ],
          },
        ],
      },
    },
  });
});

afterAll(async () => {
  for (const client of clients) client.destroy();
  await sandbox.close();
});

function client<T extends { destroy(): void }>(
  Client: new (config: object) => T,
  accessKeyId: string,
  region = "us-east-1",
): T {
  const built = new Client({
    region,
    endpoint: sandbox.url,
    credentials: { accessKeyId, secretAccessKey: "x", sessionToken: "t" },
    maxAttempts: 1,
  });
  clients.push(built);
  return built;
}

async function rejection(
  call: Promise<unknown>,
): Promise<{ name: string; message: string; status?: number }> {
  try {
    await call;
  } catch (error) {
    const { name, message, $metadata } = error as Error & { $metadata?: { httpStatusCode?: number } };
    return { name, message, status: $metadata?.httpStatusCode };
  }
  throw new Error("expected the call to be refused");
}

const roleArn = (account: string, name: string) => `arn:aws:iam::${account}:role/${name}`;

describe("credentials", () => {
  it("refuses a key it never issued, as each service does", async () => {
    expect(await rejection(client(STSClient, "AKIDUNKNOWN").send(new GetCallerIdentityCommand({})))).toEqual({
      name: "InvalidClientTokenId",
      message: "The security token included in the request is invalid.",
      status: 403,
    });
    expect(
      await rejection(client(GuardDutyClient, "AKIDUNKNOWN").send(new ListDetectorsCommand({}))),
    ).toMatchObject({
      name: "UnrecognizedClientException",
      status: 403,
    });
    expect(
      await rejection(client(OrganizationsClient, "AKIDUNKNOWN").send(new ListAccountsCommand({}))),
    ).toMatchObject({
      name: "UnrecognizedClientException",
      status: 400,
    });
  });

  it("answers GetCallerIdentity for a user and for a role session", async () => {
    const user = await client(STSClient, ADMINISTRATOR_ACCESS_KEY_ID).send(new GetCallerIdentityCommand({}));
    const session = await client(STSClient, "onboard-key").send(new GetCallerIdentityCommand({}));

    expect(user).toMatchObject({
      Account: ADMINISTRATOR,
      Arn: `arn:aws:iam::${ADMINISTRATOR}:user/administrator`,
    });
    expect(session).toMatchObject({
      Account: ADMINISTRATOR,
      Arn: `arn:aws:sts::${ADMINISTRATOR}:assumed-role/onboard/guardduty-onboarding-test-onboard`,
      UserId: `AROA${ADMINISTRATOR}:guardduty-onboarding-test-onboard`,
    });
  });

  it("does not know an account's credentials in an opt-in region it has not enabled", async () => {
    const refused = await rejection(
      client(GuardDutyClient, ADMINISTRATOR_ACCESS_KEY_ID, "af-south-1").send(new ListDetectorsCommand({})),
    );
    const enabled = await client(GuardDutyClient, "member-key", "af-south-1").send(
      new ListDetectorsCommand({}),
    );

    expect(refused).toMatchObject({ name: "UnrecognizedClientException", status: 403 });
    expect(enabled.DetectorIds).toEqual([]);
  });
});

describe("AssumeRole", () => {
  const sts = () => client(STSClient, "onboard-key");

  it("enters a role whose trust names the caller's role, with the session and SourceIdentity it asked for", async () => {
    const { Credentials, AssumedRoleUser, SourceIdentity } = await sts().send(
      new AssumeRoleCommand({
        RoleArn: roleArn(MEMBER, "Trusting"),
        RoleSessionName: "guardduty-onboarding-test-onboard",
        SourceIdentity: "guardduty-onboarding-test-onboard",
        DurationSeconds: 900,
      }),
    );
    const inside = new STSClient({
      region: "us-east-1",
      endpoint: sandbox.url,
      credentials: {
        accessKeyId: Credentials?.AccessKeyId as string,
        secretAccessKey: Credentials?.SecretAccessKey as string,
        sessionToken: Credentials?.SessionToken,
      },
    });
    clients.push(inside);

    expect(AssumedRoleUser?.Arn).toBe(
      `arn:aws:sts::${MEMBER}:assumed-role/Trusting/guardduty-onboarding-test-onboard`,
    );
    expect(SourceIdentity).toBe("guardduty-onboarding-test-onboard");
    expect((await inside.send(new GetCallerIdentityCommand({}))).Account).toBe(MEMBER);
  });

  it("refuses OrganizationAccountAccessRole to anyone but the management account", async () => {
    const refused = await rejection(
      sts().send(
        new AssumeRoleCommand({
          RoleArn: roleArn(MEMBER, "OrganizationAccountAccessRole"),
          RoleSessionName: "s1",
        }),
      ),
    );
    const management = await client(STSClient, "management-key").send(
      new AssumeRoleCommand({
        RoleArn: roleArn(MEMBER, "OrganizationAccountAccessRole"),
        RoleSessionName: "s1",
      }),
    );

    expect(refused).toEqual({
      name: "AccessDenied",
      status: 403,
      message: `User: arn:aws:sts::${ADMINISTRATOR}:assumed-role/onboard/guardduty-onboarding-test-onboard is not authorized to perform: sts:AssumeRole on resource: ${roleArn(MEMBER, "OrganizationAccountAccessRole")}`,
    });
    expect(management.Credentials?.AccessKeyId).toMatch(/^ASIA/);
  });

  it("refuses a SourceIdentity the trust policy does not allow, and a role that does not exist", async () => {
    const withSource = await rejection(
      client(STSClient, "management-key").send(
        new AssumeRoleCommand({
          RoleArn: roleArn(MEMBER, "OrganizationAccountAccessRole"),
          RoleSessionName: "s1",
          SourceIdentity: "someone",
        }),
      ),
    );
    const missing = await rejection(
      sts().send(new AssumeRoleCommand({ RoleArn: roleArn(MEMBER, "Nothing"), RoleSessionName: "s1" })),
    );

    expect(withSource).toMatchObject({
      name: "AccessDenied",
      message: expect.stringContaining("sts:SetSourceIdentity"),
    });
    expect(missing).toMatchObject({ name: "AccessDenied", status: 403 });
  });

  it("ignores an external id the trust policy does not ask for", async () => {
    const answer = await sts().send(
      new AssumeRoleCommand({
        RoleArn: roleArn(MEMBER, "Trusting"),
        RoleSessionName: "s1",
        ExternalId: "unasked-for",
      }),
    );

    expect(answer.Credentials?.AccessKeyId).toMatch(/^ASIA/);
  });

  it("keeps sessions within the role's MaxSessionDuration, and within an hour when a session assumes a role", async () => {
    const tooLong = await rejection(
      sts().send(
        new AssumeRoleCommand({
          RoleArn: roleArn(MEMBER, "Trusting"),
          RoleSessionName: "s1",
          DurationSeconds: 7200,
        }),
      ),
    );

    expect(tooLong).toEqual({
      name: "ValidationError",
      status: 400,
      message:
        "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.",
    });
    const fromUser = await rejection(
      client(STSClient, "management-key").send(
        new AssumeRoleCommand({
          RoleArn: roleArn(MEMBER, "OrganizationAccountAccessRole"),
          RoleSessionName: "s1",
          DurationSeconds: 7200,
        }),
      ),
    );
    expect(fromUser.message).toBe(
      "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
    );
  });

  it("narrows a session to its session policy, whatever the role allows", async () => {
    const { Credentials } = await client(STSClient, "management-key").send(
      new AssumeRoleCommand({
        RoleArn: roleArn(MEMBER, "OrganizationAccountAccessRole"),
        RoleSessionName: "narrowed",
        Policy: memberSessionPolicy(["us-east-1"]),
      }),
    );
    const session = (region: string) => {
      const built = new GuardDutyClient({
        region,
        endpoint: sandbox.url,
        maxAttempts: 1,
        credentials: {
          accessKeyId: Credentials?.AccessKeyId as string,
          secretAccessKey: Credentials?.SecretAccessKey as string,
          sessionToken: Credentials?.SessionToken,
        },
      });
      clients.push(built);
      return built;
    };

    expect((await session("us-east-1").send(new ListDetectorsCommand({}))).DetectorIds).toEqual([]);
    expect(await rejection(session("eu-west-1").send(new ListDetectorsCommand({})))).toMatchObject({
      name: "AccessDeniedException",
      status: 403,
      message: expect.stringContaining("because no session policy allows the guardduty:ListDetectors action"),
    });
  });
});

describe("the organization", () => {
  it("is read by its management account and delegated administrators only", async () => {
    const member = await rejection(
      client(OrganizationsClient, "member-key").send(new ListAccountsCommand({})),
    );
    const administrator = await client(OrganizationsClient, ADMINISTRATOR_ACCESS_KEY_ID).send(
      new ListAccountsCommand({}),
    );

    expect(member).toEqual({
      name: "AccessDeniedException",
      status: 400,
      message: "You don't have permissions to access this resource.",
    });
    expect(administrator.Accounts?.length).toBeGreaterThan(0);
  });
});
