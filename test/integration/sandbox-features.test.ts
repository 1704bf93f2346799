import {
  AcceptAdministratorInvitationCommand,
  CreateDetectorCommand,
  CreateMembersCommand,
  GetDetectorCommand,
  GetMemberDetectorsCommand,
  GuardDutyClient,
  InviteMembersCommand,
  ListDetectorsCommand,
  ListInvitationsCommand,
  UpdateDetectorCommand,
  UpdateMemberDetectorsCommand,
} from "@aws-sdk/client-guardduty";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Counters } from "../../sandbox/counters.ts";
import { FaultInjector } from "../../sandbox/faults.ts";
import { RUNTIME_MONITORING_CONFLICT } from "../../sandbox/guardduty-features.ts";
import { GuardDutyState, GuardDutyText } from "../../sandbox/guardduty-state.ts";
import { ADMINISTRATOR_ACCESS_KEY_ID } from "../../sandbox/identity.ts";
import { Organization } from "../../sandbox/scenario.ts";
import { type Sandbox, startSandbox } from "../../sandbox/server.ts";

/**
 * Protection plans (features) of detectors, as GuardDuty's API model documents them: CreateDetector's
 * default-on rule, the runtime monitoring mutual exclusion, and the administrator's view and changes of its
 * members' detectors (GetMemberDetectors / UpdateMemberDetectors).
 */
const REGION = "us-east-1";
let sandbox: Sandbox;
const clients: GuardDutyClient[] = [];
let next = 200_000_000_000;

beforeAll(async () => {
  sandbox = await startSandbox({ seed: 13 });
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
const administratorDetector = async () =>
  (await administrator().send(new ListDetectorsCommand({}))).DetectorIds?.[0] as string;

/** A new organization account with a client of its own. */
function newAccount(): { accountId: string; client: GuardDutyClient } {
  const accountId = String(next++);
  sandbox.addAccounts([{ id: accountId }]);
  sandbox.registerCredentials(`member-${accountId}`, accountId);
  return { accountId, client: guardDuty(`member-${accountId}`) };
}

/** A member made by CreateMembers, invited; with `accept`, it creates its detector and accepts (Enabled). */
async function member(accept: boolean): Promise<{ accountId: string; client: GuardDutyClient }> {
  const account = newAccount();
  const DetectorId = await administratorDetector();
  await administrator().send(
    new CreateMembersCommand({
      DetectorId,
      AccountDetails: [{ AccountId: account.accountId, Email: `a-${account.accountId}@example.com` }],
    }),
  );
  await administrator().send(
    new InviteMembersCommand({ DetectorId, AccountIds: [account.accountId], DisableEmailNotification: true }),
  );
  if (accept) {
    const created = await account.client.send(new CreateDetectorCommand({ Enable: true }));
    const { Invitations = [] } = await account.client.send(new ListInvitationsCommand({}));
    await account.client.send(
      new AcceptAdministratorInvitationCommand({
        DetectorId: created.DetectorId,
        AdministratorId: Invitations[0]?.AccountId,
        InvitationId: Invitations[0]?.InvitationId,
      }),
    );
  }
  return account;
}

const statuses = (features: { Name?: string; Status?: string }[] = []) =>
  Object.fromEntries(features.map((f) => [f.Name, f.Status]));

describe("CreateDetector's protection plans", () => {
  it("enables every optional plan but RUNTIME_MONITORING when no features are named", async () => {
    // Prepare
    const { accountId, client } = newAccount();

    // Act
    const { DetectorId } = await client.send(new CreateDetectorCommand({ Enable: true }));
    const detector = await client.send(new GetDetectorCommand({ DetectorId }));

    // Assess
    expect(statuses(detector.Features)).toEqual({
      CLOUD_TRAIL: "ENABLED",
      DNS_LOGS: "ENABLED",
      FLOW_LOGS: "ENABLED",
      S3_DATA_EVENTS: "ENABLED",
      EKS_AUDIT_LOGS: "ENABLED",
      EBS_MALWARE_PROTECTION: "ENABLED",
      RDS_LOGIN_EVENTS: "ENABLED",
      LAMBDA_NETWORK_LOGS: "ENABLED",
      EKS_RUNTIME_MONITORING: "ENABLED",
      RUNTIME_MONITORING: "DISABLED",
    });
    expect(sandbox.features(accountId, REGION)?.RUNTIME_MONITORING).toEqual({
      status: "DISABLED",
      additional: {
        EKS_ADDON_MANAGEMENT: "DISABLED",
        ECS_FARGATE_AGENT_MANAGEMENT: "DISABLED",
        EC2_AGENT_MANAGEMENT: "DISABLED",
      },
    });
    expect(detector.DataSources?.S3Logs?.Status).toBe("ENABLED");
  });

  it("keeps the named plans as given, DISABLED ones included, and turns the unnamed ones on", async () => {
    // Prepare
    const { accountId, client } = newAccount();

    // Act
    await client.send(
      new CreateDetectorCommand({
        Enable: true,
        Features: [
          { Name: "S3_DATA_EVENTS", Status: "DISABLED" },
          {
            Name: "RUNTIME_MONITORING",
            Status: "ENABLED",
            AdditionalConfiguration: [{ Name: "EC2_AGENT_MANAGEMENT", Status: "ENABLED" }],
          },
        ],
      }),
    );

    // Assess
    const features = sandbox.features(accountId, REGION);
    expect(features?.S3_DATA_EVENTS.status).toBe("DISABLED");
    expect(features?.RDS_LOGIN_EVENTS.status).toBe("ENABLED");
    expect(features?.RUNTIME_MONITORING).toEqual({
      status: "ENABLED",
      additional: {
        EKS_ADDON_MANAGEMENT: "DISABLED",
        ECS_FARGATE_AGENT_MANAGEMENT: "DISABLED",
        EC2_AGENT_MANAGEMENT: "ENABLED",
      },
    });
  });

  it("refuses a request naming both EKS_RUNTIME_MONITORING and RUNTIME_MONITORING, and creates nothing", async () => {
    // Prepare
    const { accountId, client } = newAccount();

    // Act
    const refused = await client
      .send(
        new CreateDetectorCommand({
          Enable: true,
          Features: [
            { Name: "EKS_RUNTIME_MONITORING", Status: "DISABLED" },
            { Name: "RUNTIME_MONITORING", Status: "ENABLED" },
          ],
        }),
      )
      .catch((error: unknown) => error);

    // Assess
    expect(refused).toMatchObject({
      name: "BadRequestException",
      message: RUNTIME_MONITORING_CONFLICT,
      $metadata: { httpStatusCode: 400 },
    });
    expect(sandbox.detectorId(accountId, REGION)).toBeUndefined();
  });

  it("refuses additional configuration on a plan that has none", async () => {
    // Prepare
    const { client } = newAccount();

    // Act
    const refused = await client
      .send(
        new CreateDetectorCommand({
          Enable: true,
          Features: [
            {
              Name: "S3_DATA_EVENTS",
              Status: "ENABLED",
              AdditionalConfiguration: [{ Name: "EKS_ADDON_MANAGEMENT", Status: "ENABLED" }],
            },
          ],
        }),
      )
      .catch((error: unknown) => error);

    // Assess
    expect(refused).toMatchObject({ name: "BadRequestException", $metadata: { httpStatusCode: 400 } });
    expect((refused as Error).message).toContain(GuardDutyText.invalidInput);
  });
});

describe("UpdateDetector's protection plans", () => {
  it("changes the named plans and their named additional configuration only", async () => {
    // Prepare
    const { accountId, client } = newAccount();
    const { DetectorId } = await client.send(new CreateDetectorCommand({ Enable: true }));

    // Act
    await client.send(
      new UpdateDetectorCommand({
        DetectorId,
        Features: [
          { Name: "LAMBDA_NETWORK_LOGS", Status: "DISABLED" },
          {
            Name: "EKS_RUNTIME_MONITORING",
            AdditionalConfiguration: [{ Name: "EKS_ADDON_MANAGEMENT", Status: "ENABLED" }],
          },
        ],
      }),
    );

    // Assess
    const features = sandbox.features(accountId, REGION);
    expect(features?.LAMBDA_NETWORK_LOGS.status).toBe("DISABLED");
    expect(features?.EKS_RUNTIME_MONITORING).toEqual({
      status: "ENABLED",
      additional: { EKS_ADDON_MANAGEMENT: "ENABLED" },
    });
    expect(features?.S3_DATA_EVENTS.status).toBe("ENABLED");
    expect(features?.RUNTIME_MONITORING.status).toBe("DISABLED");
  });
});

describe("the administrator's view and changes of its members' detectors", () => {
  it("answers a member that is only invited as unprocessed, and changes nothing", async () => {
    // Prepare
    const { accountId, client } = await member(false);
    await client.send(new CreateDetectorCommand({ Enable: true }));
    const DetectorId = await administratorDetector();

    // Act
    const result = await administrator().send(
      new UpdateMemberDetectorsCommand({
        DetectorId,
        AccountIds: [accountId],
        Features: [{ Name: "S3_DATA_EVENTS", Status: "DISABLED" }],
      }),
    );

    // Assess
    expect(sandbox.status(accountId, REGION)).toBe("Invited");
    expect(result.UnprocessedAccounts).toEqual([
      { AccountId: accountId, Result: GuardDutyText.notAssociatedMember },
    ]);
    expect(sandbox.features(accountId, REGION)?.S3_DATA_EVENTS.status).toBe("ENABLED");
  });

  it("shows in GetMemberDetectors what UpdateMemberDetectors changed on an associated member", async () => {
    // Prepare
    const { accountId } = await member(true);
    const outsider = newAccount().accountId;
    const DetectorId = await administratorDetector();

    // Act
    const updated = await administrator().send(
      new UpdateMemberDetectorsCommand({
        DetectorId,
        AccountIds: [accountId],
        Features: [
          { Name: "EBS_MALWARE_PROTECTION", Status: "DISABLED" },
          {
            Name: "RUNTIME_MONITORING",
            Status: "ENABLED",
            AdditionalConfiguration: [{ Name: "ECS_FARGATE_AGENT_MANAGEMENT", Status: "ENABLED" }],
          },
        ],
      }),
    );
    const read = await administrator().send(
      new GetMemberDetectorsCommand({ DetectorId, AccountIds: [accountId, outsider] }),
    );

    // Assess
    expect(updated.UnprocessedAccounts).toEqual([]);
    expect(read.UnprocessedAccounts).toEqual([{ AccountId: outsider, Result: GuardDutyText.notAssociated }]);
    const [configuration] = read.MemberDataSourceConfigurations ?? [];
    expect(configuration?.AccountId).toBe(accountId);
    expect(statuses(configuration?.Features)).toMatchObject({
      EBS_MALWARE_PROTECTION: "DISABLED",
      RUNTIME_MONITORING: "ENABLED",
      S3_DATA_EVENTS: "ENABLED",
    });
    const runtime = configuration?.Features?.find((f) => f.Name === "RUNTIME_MONITORING");
    expect(statuses(runtime?.AdditionalConfiguration)).toEqual({
      EKS_ADDON_MANAGEMENT: "DISABLED",
      ECS_FARGATE_AGENT_MANAGEMENT: "ENABLED",
      EC2_AGENT_MANAGEMENT: "DISABLED",
    });
    expect(
      configuration?.DataSources?.MalwareProtection?.ScanEc2InstanceWithFindings?.EbsVolumes?.Status,
    ).toBe("DISABLED");
  });

  it("answers a member without a detector in the region as unprocessed", async () => {
    // Prepare
    const { accountId } = await member(false);
    const DetectorId = await administratorDetector();

    // Act
    const read = await administrator().send(
      new GetMemberDetectorsCommand({ DetectorId, AccountIds: [accountId] }),
    );

    // Assess
    expect(read.MemberDataSourceConfigurations).toEqual([]);
    expect(read.UnprocessedAccounts).toEqual([
      { AccountId: accountId, Result: GuardDutyText.memberHasNoDetector },
    ]);
  });

  it("refuses UpdateMemberDetectors naming both runtime monitoring plans", async () => {
    // Prepare
    const { accountId } = await member(true);
    const DetectorId = await administratorDetector();

    // Act
    const refused = await administrator()
      .send(
        new UpdateMemberDetectorsCommand({
          DetectorId,
          AccountIds: [accountId],
          Features: [
            { Name: "RUNTIME_MONITORING", Status: "ENABLED" },
            { Name: "EKS_RUNTIME_MONITORING", Status: "DISABLED" },
          ],
        }),
      )
      .catch((error: unknown) => error);

    // Assess
    expect(refused).toMatchObject({ name: "BadRequestException", message: RUNTIME_MONITORING_CONFLICT });
    expect(sandbox.features(accountId, REGION)?.RUNTIME_MONITORING.status).toBe("DISABLED");
  });

  type Batch = (client: GuardDutyClient, DetectorId: string, AccountIds: string[]) => Promise<unknown>;
  const batches: [string, Batch][] = [
    [
      "GetMemberDetectors",
      (c, DetectorId, AccountIds) => c.send(new GetMemberDetectorsCommand({ DetectorId, AccountIds })),
    ],
    [
      "UpdateMemberDetectors",
      (c, DetectorId, AccountIds) =>
        c.send(
          new UpdateMemberDetectorsCommand({
            DetectorId,
            AccountIds,
            Features: [{ Name: "S3_DATA_EVENTS", Status: "ENABLED" }],
          }),
        ),
    ],
  ];
  it.each(batches)("%s refuses 51 account ids with BadRequestException", async (_, send) => {
    // Prepare
    const DetectorId = await administratorDetector();
    const ids = Array.from({ length: 51 }, (_, i) => String(300_000_000_000 + i));

    // Act
    const refused = await send(administrator(), DetectorId, ids).catch((error: unknown) => error);

    // Assess
    expect(refused).toMatchObject({ name: "BadRequestException", $metadata: { httpStatusCode: 400 } });
    expect((refused as Error).message).toContain("51 items were given");
  });
});

describe("the features API other sandbox modules build on", () => {
  /** The GuardDuty model alone, in organization mode: CreateMembers enables GuardDuty in the accounts it adds. */
  function organizationState(accountId: string): { state: GuardDutyState; administratorId: string } {
    const organization = new Organization({ seed: 3, accounts: [{ id: accountId }] });
    const scenario = {
      seed: 3,
      mode: "organization" as const,
      regionsWithoutDetector: [],
      membersOfOtherAdministrator: [],
      maxMembers: 50,
      invitationDelayMs: 0,
      emailVerificationMs: 0,
      emailVerificationFailures: [],
      delegatedAdministratorRegions: "*" as const,
      autoEnableOrganizationMembers: "NEW" as const,
    };
    const state = new GuardDutyState(
      organization,
      scenario,
      new FaultInjector(3, {}, Date.now),
      new Counters(),
      Date.now,
    );
    return { state, administratorId: organization.administratorAccountId };
  }

  it("creates a detector with the given plans, the unnamed ones by the default-on rule", () => {
    // Prepare
    const { state } = organizationState("444444444444");

    // Act
    state.createDetectorWithFeatures("444444444444", REGION, [
      { name: "RDS_LOGIN_EVENTS", status: "DISABLED" },
      {
        name: "RUNTIME_MONITORING",
        status: "ENABLED",
        additional: [{ name: "EKS_ADDON_MANAGEMENT", status: "ENABLED" }],
      },
    ]);

    // Assess
    const features = state.featuresOf("444444444444", REGION);
    expect(features?.RDS_LOGIN_EVENTS.status).toBe("DISABLED");
    expect(features?.EKS_AUDIT_LOGS.status).toBe("ENABLED");
    expect(features?.RUNTIME_MONITORING.additional.EKS_ADDON_MANAGEMENT).toBe("ENABLED");
  });

  it("configures the plans of the detector CreateMembers made in organization mode", () => {
    // Prepare
    const { state, administratorId } = organizationState("555555555555");
    state.createMember(administratorId, REGION, "555555555555", "a@example.com");

    // Act
    const configured = state.configureFeatures("555555555555", REGION, [
      { name: "S3_DATA_EVENTS", status: "DISABLED" },
    ]);
    const elsewhere = state.configureFeatures("555555555555", "eu-west-1", [
      { name: "S3_DATA_EVENTS", status: "DISABLED" },
    ]);

    // Assess
    expect({ configured, elsewhere }).toEqual({ configured: true, elsewhere: false });
    expect(state.featuresOf("555555555555", REGION)?.S3_DATA_EVENTS.status).toBe("DISABLED");
    expect(state.featuresOf("555555555555", "eu-west-1")).toBeUndefined();
  });
});
