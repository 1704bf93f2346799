/**
 * Wire conformance of the sandbox against AWS's own API models (botocore), through an oracle this project did
 * not write the rules of: every operation the sandbox implements is driven with the real AWS SDK v3 clients
 * through its success path and its error paths (bad input, unknown detector, limits, bad pagination tokens,
 * throttling, server errors), every request and response is recorded with `onExchange`, and each one is
 * checked against the model by test/support/aws-model.ts.
 *
 * A request this test breaks on purpose (e.g. 51 ids) must be flagged by the oracle and refused by the
 * sandbox; every response, error or not, must conform.
 */
import { writeFileSync } from "node:fs";
import { AccountClient, GetRegionOptStatusCommand, ListRegionsCommand } from "@aws-sdk/client-account";
import {
  AcceptAdministratorInvitationCommand,
  type AcceptAdministratorInvitationCommandInput,
  AcceptInvitationCommand,
  CreateDetectorCommand,
  type CreateDetectorCommandInput,
  CreateMembersCommand,
  DeclineInvitationsCommand,
  DeleteDetectorCommand,
  DeleteInvitationsCommand,
  DeleteMembersCommand,
  DescribeOrganizationConfigurationCommand,
  DisableOrganizationAdminAccountCommand,
  DisassociateFromAdministratorAccountCommand,
  DisassociateFromMasterAccountCommand,
  DisassociateMembersCommand,
  EnableOrganizationAdminAccountCommand,
  GetAdministratorAccountCommand,
  GetDetectorCommand,
  GetInvitationsCountCommand,
  GetMasterAccountCommand,
  GetMemberDetectorsCommand,
  GetMembersCommand,
  GuardDutyClient,
  InviteMembersCommand,
  ListDetectorsCommand,
  ListInvitationsCommand,
  ListMembersCommand,
  ListOrganizationAdminAccountsCommand,
  StartMonitoringMembersCommand,
  StopMonitoringMembersCommand,
  UpdateDetectorCommand,
  UpdateMemberDetectorsCommand,
  type UpdateMemberDetectorsCommandInput,
  UpdateOrganizationConfigurationCommand,
  type UpdateOrganizationConfigurationCommandInput,
} from "@aws-sdk/client-guardduty";
import {
  CloseAccountCommand,
  DescribeAccountCommand,
  DescribeOrganizationCommand,
  ListAccountsCommand,
  ListDelegatedAdministratorsCommand,
  OrganizationsClient,
  RemoveAccountFromOrganizationCommand,
} from "@aws-sdk/client-organizations";
import { AssumeRoleCommand, GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { FaultOptions } from "../../sandbox/faults.ts";
import { type Exchange, type Sandbox, startSandbox } from "../../sandbox/server.ts";
import {
  loadModel,
  type Model,
  skippedPatterns,
  validateRequest,
  validateResponse,
} from "../support/aws-model.ts";
import { probeImplemented } from "../support/sandbox-probe.ts";

const SEED = 5;
const REGION = "us-west-2";
const NO_DETECTOR_REGION = "ap-south-1";
const ADMIN_KEY = "AKIDCONFORMANCEADMIN";
const MANAGEMENT_KEY = "AKIDCONFORMANCEMANAGEMENT";
const UNKNOWN_DETECTOR = "0".repeat(32);
const models: Readonly<Record<string, Model>> = {
  guardduty: loadModel("guardduty"),
  organizations: loadModel("organizations"),
  sts: loadModel("sts"),
  account: loadModel("account"),
};

/** One driven call (or a few): the exchanges it caused, and whether its request breaks the model on purpose. */
interface Step {
  readonly label: string;
  readonly invalidRequest: boolean;
  readonly exchanges: readonly Exchange[];
}
const recorded: Exchange[] = [];
const steps: Step[] = [];
const clients: { destroy(): void }[] = [];
let sandbox: Sandbox;

// Probed before the tests are collected, so that each implemented operation gets a test of its own.
const { implemented, misrouted } = await probeImplemented(models, SEED);

/** Runs one call; its rejection is the point of an error path, so it is swallowed: the oracle judges it. */
async function step<T>(
  label: string,
  call: () => Promise<T>,
  options: { invalidRequest?: boolean; faults?: FaultOptions } = {},
): Promise<T | undefined> {
  if (options.faults) sandbox.setFaults(options.faults);
  const start = recorded.length;
  let result: T | undefined;
  try {
    result = await call();
  } catch {
    result = undefined;
  } finally {
    if (options.faults) sandbox.setFaults({});
  }
  await new Promise((resolve) => setImmediate(resolve)); // the sandbox reports an exchange on "finish"
  steps.push({ label, invalidRequest: options.invalidRequest ?? false, exchanges: recorded.slice(start) });
  return result;
}

/** The same call throttled, then answered with a server error (GuardDuty and Organizations inject faults). */
async function faultPaths(
  service: "guardduty" | "organizations",
  operation: string,
  call: () => Promise<unknown>,
) {
  const throttle = { ratePerSecond: 0, burst: 0 };
  await step(`${operation} throttled`, call, {
    faults:
      service === "guardduty"
        ? { guardDutyThrottle: { ...throttle, operations: [operation] } }
        : { organizationsThrottle: throttle },
  });
  await step(`${operation} server error`, call, {
    faults: { serverErrorRate: 1, serverErrorOperations: [operation] },
  });
}

function guardDuty(accessKeyId = ADMIN_KEY, region = REGION): GuardDutyClient {
  const client = new GuardDutyClient({
    region,
    endpoint: sandbox.url,
    credentials: { accessKeyId, secretAccessKey: "sandbox" },
    maxAttempts: 1,
  });
  clients.push(client);
  return client;
}

/** A GuardDuty client signed as a member account (one per account). */
const members = new Map<string, GuardDutyClient>();
function member(accountId: string): GuardDutyClient {
  let client = members.get(accountId);
  if (client === undefined) {
    sandbox.registerCredentials(`AKIDMEMBER${accountId}`, accountId);
    client = guardDuty(`AKIDMEMBER${accountId}`);
    members.set(accountId, client);
  }
  return client;
}

const details = (ids: readonly string[]) =>
  ids.map((AccountId) => ({ AccountId, Email: `owner+${AccountId}@example.com` }));
/** 51 well-formed account ids: one more than every GuardDuty member API takes. */
const ids51 = Array.from({ length: 51 }, (_, i) => String(100_000_000_000 + i));

async function driveGuardDuty(workloads: readonly string[]): Promise<void> {
  const [m1 = "", m2 = "", m3 = "", m4 = "", m5 = "", m6 = "", outsider = "", m7 = ""] = workloads;
  const admin = guardDuty();

  const listed = await step("ListDetectors", () => admin.send(new ListDetectorsCommand({})));
  const DetectorId = listed?.DetectorIds?.[0] ?? "";
  await step("ListDetectors MaxResults 1", () => admin.send(new ListDetectorsCommand({ MaxResults: 1 })));
  const off = guardDuty(ADMIN_KEY, NO_DETECTOR_REGION);
  await step("ListDetectors where GuardDuty is off", () => off.send(new ListDetectorsCommand({})));
  await step("ListDetectors MaxResults 51", () => admin.send(new ListDetectorsCommand({ MaxResults: 51 })), {
    invalidRequest: true,
  });
  await step("ListDetectors bad NextToken", () =>
    admin.send(new ListDetectorsCommand({ NextToken: "nope" })),
  );
  await faultPaths("guardduty", "ListDetectors", () => admin.send(new ListDetectorsCommand({})));

  const createDetector = (accountId: string, input: CreateDetectorCommandInput = { Enable: true }) =>
    member(accountId).send(new CreateDetectorCommand(input));
  const d1 = (await step("CreateDetector", () => createDetector(m1)))?.DetectorId ?? "";
  await step("CreateDetector again", () => createDetector(m1));
  await step("CreateDetector without Enable", () => createDetector(m6, {} as CreateDetectorCommandInput), {
    invalidRequest: true,
  });
  await step("CreateDetector with features, RUNTIME_MONITORING and EKS_RUNTIME_MONITORING both", () =>
    createDetector(m6, {
      Enable: true,
      Features: [
        { Name: "EKS_RUNTIME_MONITORING", Status: "ENABLED" },
        { Name: "RUNTIME_MONITORING", Status: "DISABLED" },
      ],
    }),
  );
  await step(
    "CreateDetector with an unknown feature status",
    () => createDetector(m6, { Enable: true, Features: [{ Name: "S3_DATA_EVENTS", Status: "ON" as never }] }),
    { invalidRequest: true },
  );
  await faultPaths("guardduty", "CreateDetector", () => createDetector(m6));

  await step("GetDetector", () => admin.send(new GetDetectorCommand({ DetectorId })));
  await step("GetDetector unknown detector", () =>
    admin.send(new GetDetectorCommand({ DetectorId: UNKNOWN_DETECTOR })),
  );
  await faultPaths("guardduty", "GetDetector", () => admin.send(new GetDetectorCommand({ DetectorId })));

  const update = (input: Partial<ConstructorParameters<typeof UpdateDetectorCommand>[0]>) =>
    admin.send(new UpdateDetectorCommand({ DetectorId, ...input }));
  await step("UpdateDetector", () => update({ Enable: true, FindingPublishingFrequency: "SIX_HOURS" }));
  await step("UpdateDetector unknown detector", () => update({ DetectorId: UNKNOWN_DETECTOR, Enable: true }));
  await step(
    "UpdateDetector unknown frequency",
    () => update({ FindingPublishingFrequency: "HOURLY" as never }),
    {
      invalidRequest: true,
    },
  );
  await step("UpdateDetector features", () =>
    update({
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
  await step("UpdateDetector both runtime monitoring features", () =>
    update({
      Features: [
        { Name: "EKS_RUNTIME_MONITORING", Status: "DISABLED" },
        { Name: "RUNTIME_MONITORING", Status: "ENABLED" },
      ],
    }),
  );
  await step("UpdateDetector unknown feature", () => update({ Features: [{ Name: "NOPE" as never }] }), {
    invalidRequest: true,
  });
  await step("GetDetector after the features changed", () =>
    admin.send(new GetDetectorCommand({ DetectorId })),
  );
  await faultPaths("guardduty", "UpdateDetector", () => update({ Enable: true }));

  const d7 = (await step("CreateDetector to delete", () => createDetector(m7)))?.DetectorId ?? "";
  const remove = (detector: string) => member(m7).send(new DeleteDetectorCommand({ DetectorId: detector }));
  await step("DeleteDetector", () => remove(d7));
  await step("DeleteDetector again", () => remove(d7));
  await faultPaths("guardduty", "DeleteDetector", () => remove(d7));

  const create = (AccountDetails: ReturnType<typeof details>, detector = DetectorId) =>
    admin.send(new CreateMembersCommand({ DetectorId: detector, AccountDetails }));
  await step("CreateMembers", () => create(details([m1, m2, m3, m4, m5])));
  await step("CreateMembers already a member", () => create(details([m1])));
  await step("CreateMembers internal error", () => create(details([m6])), {
    faults: { internalErrorRate: 1 },
  });
  await step("CreateMembers unknown detector", () => create(details([m6]), UNKNOWN_DETECTOR));
  await step("CreateMembers 51 accounts", () => create(details(ids51)), { invalidRequest: true });
  await step("CreateMembers without Email", () => create([{ AccountId: m6 } as never]), {
    invalidRequest: true,
  });
  await faultPaths("guardduty", "CreateMembers", () => create(details([m6])));

  const invite = (AccountIds: string[], detector = DetectorId) =>
    admin.send(new InviteMembersCommand({ DetectorId: detector, AccountIds }));
  await step("InviteMembers", () => invite([m1, m2, m3, m4, m5]));
  await step("InviteMembers already invited", () => invite([m1]));
  await step("InviteMembers not a member", () => invite([outsider]));
  await step("InviteMembers unknown detector", () => invite([m1], UNKNOWN_DETECTOR));
  await step("InviteMembers 51 accounts", () => invite(ids51), { invalidRequest: true });
  await faultPaths("guardduty", "InviteMembers", () => invite([m1]));

  const list = (input: Partial<ConstructorParameters<typeof ListMembersCommand>[0]> = {}) =>
    admin.send(new ListMembersCommand({ DetectorId, ...input }));
  const page = await step("ListMembers page 1", () => list({ OnlyAssociated: "false", MaxResults: 2 }));
  await step("ListMembers page 2", () =>
    list({ OnlyAssociated: "false", MaxResults: 2, NextToken: page?.NextToken }),
  );
  await step("ListMembers bad NextToken", () => list({ NextToken: "nope" }));
  await step("ListMembers MaxResults 0", () => list({ MaxResults: 0 }), { invalidRequest: true });
  await step("ListMembers OnlyAssociated maybe", () => list({ OnlyAssociated: "maybe" }));
  await step("ListMembers unknown detector", () => list({ DetectorId: UNKNOWN_DETECTOR }));
  await faultPaths("guardduty", "ListMembers", () => list());

  const get = (AccountIds: string[], detector = DetectorId) =>
    admin.send(new GetMembersCommand({ DetectorId: detector, AccountIds }));
  await step("GetMembers", () => get([m1, outsider]));
  await step("GetMembers unknown detector", () => get([m1], UNKNOWN_DETECTOR));
  await step("GetMembers no ids", () => get([]), { invalidRequest: true });
  await step("GetMembers 51 accounts", () => get(ids51), { invalidRequest: true });
  await faultPaths("guardduty", "GetMembers", () => get([m1]));

  const invitations = (accountId: string, input = {}) =>
    member(accountId).send(new ListInvitationsCommand(input));
  const received = await step("ListInvitations", () => invitations(m1));
  await step("ListInvitations MaxResults 51", () => invitations(m1, { MaxResults: 51 }), {
    invalidRequest: true,
  });
  await step("ListInvitations bad NextToken", () => invitations(m1, { NextToken: "nope" }));
  await faultPaths("guardduty", "ListInvitations", () => invitations(m1));

  const accept = (accountId: string, input: AcceptAdministratorInvitationCommandInput) =>
    member(accountId).send(new AcceptAdministratorInvitationCommand(input));
  const AdministratorId = sandbox.administratorAccountId;
  const InvitationId = received?.Invitations?.[0]?.InvitationId ?? "";
  await step("AcceptAdministratorInvitation", () =>
    accept(m1, { DetectorId: d1, AdministratorId, InvitationId }),
  );
  await step("AcceptAdministratorInvitation bad invitation", () =>
    accept(m1, { DetectorId: d1, AdministratorId, InvitationId: "nope" }),
  );
  await step("AcceptAdministratorInvitation without ids", () => accept(m1, { DetectorId: d1 } as never), {
    invalidRequest: true,
  });
  await faultPaths("guardduty", "AcceptAdministratorInvitation", () =>
    accept(m1, { DetectorId: d1, AdministratorId, InvitationId }),
  );

  const d2 = (await step("CreateDetector for m2", () => createDetector(m2)))?.DetectorId ?? "";
  const second = await step("ListInvitations for m2", () => invitations(m2));
  const acceptOld = (InvitationId: string) =>
    member(m2).send(new AcceptInvitationCommand({ DetectorId: d2, MasterId: AdministratorId, InvitationId }));
  await step("AcceptInvitation", () => acceptOld(second?.Invitations?.[0]?.InvitationId ?? ""));
  await step("AcceptInvitation bad invitation", () => acceptOld("nope"));
  await faultPaths("guardduty", "AcceptInvitation", () => acceptOld("nope"));

  const count = () => member(m3).send(new GetInvitationsCountCommand({}));
  await step("GetInvitationsCount", count);
  await faultPaths("guardduty", "GetInvitationsCount", count);
  type Answer = (client: GuardDutyClient, AccountIds: string[]) => Promise<unknown>;
  const answers: [string, Answer, string][] = [
    ["DeclineInvitations", (c, AccountIds) => c.send(new DeclineInvitationsCommand({ AccountIds })), m4],
    ["DeleteInvitations", (c, AccountIds) => c.send(new DeleteInvitationsCommand({ AccountIds })), m5],
  ];
  for (const [operation, send, accountId] of answers) {
    await step(operation, () => send(member(accountId), [AdministratorId]));
    await step(`${operation} no such invitation`, () => send(member(accountId), [outsider]));
    await step(`${operation} 51 accounts`, () => send(member(accountId), ids51), { invalidRequest: true });
    await faultPaths("guardduty", operation, () => send(member(accountId), [AdministratorId]));
  }

  const lone = (
    await step("CreateDetector for an account with no administrator", () => createDetector(outsider))
  )?.DetectorId;
  type Ask = (client: GuardDutyClient, DetectorId: string) => Promise<unknown>;
  const administratorQueries: [string, Ask, string, string][] = [
    [
      "GetAdministratorAccount",
      (c, id) => c.send(new GetAdministratorAccountCommand({ DetectorId: id })),
      m1,
      d1,
    ],
    ["GetMasterAccount", (c, id) => c.send(new GetMasterAccountCommand({ DetectorId: id })), m2, d2],
  ];
  for (const [operation, send, accountId, detector] of administratorQueries) {
    const ask = (who: string, DetectorId = "") => send(member(who), DetectorId);
    await step(operation, () => ask(accountId, detector));
    await step(`${operation} with no administrator`, () => ask(outsider, lone));
    await step(`${operation} unknown detector`, () => ask(accountId, UNKNOWN_DETECTOR));
    await faultPaths("guardduty", operation, () => ask(accountId, detector));
  }

  // m1 accepted: its detector d1 is the administrator's to read and change; outsider is no member at all.
  const getMemberDetectors = (AccountIds: string[], detector = DetectorId) =>
    admin.send(new GetMemberDetectorsCommand({ DetectorId: detector, AccountIds }));
  const updateMemberDetectors = (
    AccountIds: string[],
    Features: UpdateMemberDetectorsCommandInput["Features"] = [
      { Name: "LAMBDA_NETWORK_LOGS", Status: "DISABLED" },
    ],
    detector = DetectorId,
  ) => admin.send(new UpdateMemberDetectorsCommand({ DetectorId: detector, AccountIds, Features }));
  await step("UpdateMemberDetectors", () =>
    updateMemberDetectors(
      [m1, outsider],
      [
        {
          Name: "EKS_RUNTIME_MONITORING",
          Status: "ENABLED",
          AdditionalConfiguration: [{ Name: "EKS_ADDON_MANAGEMENT", Status: "ENABLED" }],
        },
      ],
    ),
  );
  await step("UpdateMemberDetectors not associated", () => updateMemberDetectors([m3]));
  await step("UpdateMemberDetectors both runtime monitoring features", () =>
    updateMemberDetectors(
      [m1],
      [
        { Name: "EKS_RUNTIME_MONITORING", Status: "DISABLED" },
        { Name: "RUNTIME_MONITORING", Status: "ENABLED" },
      ],
    ),
  );
  await step("UpdateMemberDetectors additional configuration on a feature without any", () =>
    updateMemberDetectors(
      [m1],
      [
        {
          Name: "RDS_LOGIN_EVENTS",
          AdditionalConfiguration: [{ Name: "EC2_AGENT_MANAGEMENT", Status: "ENABLED" }],
        },
      ],
    ),
  );
  await step("UpdateMemberDetectors unknown detector", () =>
    updateMemberDetectors([m1], undefined, UNKNOWN_DETECTOR),
  );
  await step("UpdateMemberDetectors 51 accounts", () => updateMemberDetectors(ids51), {
    invalidRequest: true,
  });
  await faultPaths("guardduty", "UpdateMemberDetectors", () => updateMemberDetectors([m1]));
  await step("GetMemberDetectors", () => getMemberDetectors([m1, outsider, m3]));
  await step("GetMemberDetectors unknown detector", () => getMemberDetectors([m1], UNKNOWN_DETECTOR));
  await step("GetMemberDetectors no ids", () => getMemberDetectors([]), { invalidRequest: true });
  await step("GetMemberDetectors 51 accounts", () => getMemberDetectors(ids51), { invalidRequest: true });
  await faultPaths("guardduty", "GetMemberDetectors", () => getMemberDetectors([m1]));

  /** An administrator call on a batch of members: 1–50 ids (model `AccountIds`). */
  type Batch = (AccountIds: string[], detector: string) => Promise<unknown>;
  const batch = async (operation: string, call: Batch, accountId: string) => {
    await step(operation, () => call([accountId], DetectorId));
    await step(`${operation} not a member`, () => call([outsider], DetectorId));
    await step(`${operation} unknown detector`, () => call([accountId], UNKNOWN_DETECTOR));
    await step(`${operation} 51 accounts`, () => call(ids51, DetectorId), { invalidRequest: true });
    await faultPaths("guardduty", operation, () => call([accountId], DetectorId));
  };
  await batch(
    "StopMonitoringMembers",
    (AccountIds, d) => admin.send(new StopMonitoringMembersCommand({ DetectorId: d, AccountIds })),
    m1,
  );
  await batch(
    "StartMonitoringMembers",
    (AccountIds, d) => admin.send(new StartMonitoringMembersCommand({ DetectorId: d, AccountIds })),
    m1,
  );

  // The members leave on their side: m1 accepted with AcceptAdministratorInvitation, m2 with AcceptInvitation.
  const leave: [string, Ask, string, string][] = [
    [
      "DisassociateFromAdministratorAccount",
      (c, id) => c.send(new DisassociateFromAdministratorAccountCommand({ DetectorId: id })),
      m1,
      d1,
    ],
    [
      "DisassociateFromMasterAccount",
      (c, id) => c.send(new DisassociateFromMasterAccountCommand({ DetectorId: id })),
      m2,
      d2,
    ],
  ];
  for (const [operation, send, accountId, detector] of leave) {
    await step(operation, () => send(member(accountId), detector));
    await step(`${operation} again`, () => send(member(accountId), detector));
    await step(`${operation} unknown detector`, () => send(member(accountId), UNKNOWN_DETECTOR));
    await faultPaths("guardduty", operation, () => send(member(accountId), detector));
  }

  await batch(
    "DisassociateMembers",
    (AccountIds, d) => admin.send(new DisassociateMembersCommand({ DetectorId: d, AccountIds })),
    m1,
  );
  await batch(
    "DeleteMembers",
    (AccountIds, d) => admin.send(new DeleteMembersCommand({ DetectorId: d, AccountIds })),
    m1,
  );
}

/**
 * The organization's side: the management account designates the administrator as GuardDuty's delegated
 * administrator in REGION, which then reads and updates the organization configuration and enables an
 * organization account with CreateMembers alone; at the end the designation is removed again.
 */
async function driveOrganizationMode(workloads: readonly string[]): Promise<void> {
  const [, , , , , , , , m8 = "", m9 = ""] = workloads;
  const admin = guardDuty();
  const management = guardDuty(MANAGEMENT_KEY);
  const AdminAccountId = sandbox.administratorAccountId;
  const enable = () => management.send(new EnableOrganizationAdminAccountCommand({ AdminAccountId }));
  await step("EnableOrganizationAdminAccount before the management account enables GuardDuty", enable);
  await step("CreateDetector for the management account", () =>
    management.send(new CreateDetectorCommand({ Enable: true })),
  );
  await step("EnableOrganizationAdminAccount", enable);
  await step("EnableOrganizationAdminAccount again", enable);
  await step("EnableOrganizationAdminAccount by the administrator", () =>
    admin.send(new EnableOrganizationAdminAccountCommand({ AdminAccountId })),
  );
  await step(
    "EnableOrganizationAdminAccount without AdminAccountId",
    () => management.send(new EnableOrganizationAdminAccountCommand({} as never)),
    { invalidRequest: true },
  );
  await faultPaths("guardduty", "EnableOrganizationAdminAccount", enable);

  const listAdmins = (client = management, input = {}) =>
    client.send(new ListOrganizationAdminAccountsCommand(input));
  await step("ListOrganizationAdminAccounts", () => listAdmins());
  await step("ListOrganizationAdminAccounts by the administrator", () => listAdmins(admin));
  await step(
    "ListOrganizationAdminAccounts MaxResults 51",
    () => listAdmins(management, { MaxResults: 51 }),
    {
      invalidRequest: true,
    },
  );
  await faultPaths("guardduty", "ListOrganizationAdminAccounts", () => listAdmins());

  const DetectorId = sandbox.detectorId(AdminAccountId, REGION) ?? "";
  const managementDetector = sandbox.detectorId(sandbox.managementAccountId, REGION) ?? "";
  const describe = (client = admin, detector = DetectorId) =>
    client.send(new DescribeOrganizationConfigurationCommand({ DetectorId: detector }));
  await step("DescribeOrganizationConfiguration", () => describe());
  await step("DescribeOrganizationConfiguration by a non-delegated account", () =>
    describe(management, managementDetector),
  );
  await step("DescribeOrganizationConfiguration unknown detector", () => describe(admin, UNKNOWN_DETECTOR));
  await step(
    "DescribeOrganizationConfiguration MaxResults 51",
    () => admin.send(new DescribeOrganizationConfigurationCommand({ DetectorId, MaxResults: 51 })),
    { invalidRequest: true },
  );
  await faultPaths("guardduty", "DescribeOrganizationConfiguration", () => describe());

  const update = (input: Partial<UpdateOrganizationConfigurationCommandInput>, client = admin) =>
    client.send(new UpdateOrganizationConfigurationCommand({ DetectorId, ...input }));
  const features: UpdateOrganizationConfigurationCommandInput["Features"] = [
    { Name: "S3_DATA_EVENTS", AutoEnable: "ALL" },
    {
      Name: "RUNTIME_MONITORING",
      AutoEnable: "NEW",
      AdditionalConfiguration: [{ Name: "EC2_AGENT_MANAGEMENT", AutoEnable: "NEW" }],
    },
  ];
  await step("UpdateOrganizationConfiguration", () =>
    update({ AutoEnableOrganizationMembers: "ALL", Features: features }),
  );
  await step("UpdateOrganizationConfiguration with AutoEnable and AutoEnableOrganizationMembers", () =>
    update({ AutoEnable: true, AutoEnableOrganizationMembers: "NEW" }),
  );
  await step("UpdateOrganizationConfiguration with both runtime monitorings", () =>
    update({
      AutoEnableOrganizationMembers: "ALL",
      Features: [
        { Name: "RUNTIME_MONITORING", AutoEnable: "NEW" },
        { Name: "EKS_RUNTIME_MONITORING", AutoEnable: "NEW" },
      ],
    }),
  );
  await step(
    "UpdateOrganizationConfiguration unknown feature",
    () => update({ AutoEnableOrganizationMembers: "ALL", Features: [{ Name: "NOPE" as never }] }),
    { invalidRequest: true },
  );
  await faultPaths("guardduty", "UpdateOrganizationConfiguration", () =>
    update({ AutoEnableOrganizationMembers: "ALL" }),
  );
  await step("DescribeOrganizationConfiguration after the update", () => describe());

  // As delegated administrator: CreateMembers enables m8 at once; inviting it, or deleting it under ALL, is refused.
  await step("CreateMembers as delegated administrator", () =>
    admin.send(new CreateMembersCommand({ DetectorId, AccountDetails: details([m8, m9]) })),
  );
  await step("InviteMembers of an organization member", () =>
    admin.send(new InviteMembersCommand({ DetectorId, AccountIds: [m8] })),
  );
  await step("DeleteMembers of an organization member under ALL", () =>
    admin.send(new DeleteMembersCommand({ DetectorId, AccountIds: [m8] })),
  );
  await step("DisassociateMembers of an organization member under ALL", () =>
    admin.send(new DisassociateMembersCommand({ DetectorId, AccountIds: [m9] })),
  );

  const disable = () => management.send(new DisableOrganizationAdminAccountCommand({ AdminAccountId }));
  await faultPaths("guardduty", "DisableOrganizationAdminAccount", disable);
  await step("DisableOrganizationAdminAccount", disable);
  await step("DisableOrganizationAdminAccount again", disable);
  await step(
    "DisableOrganizationAdminAccount without AdminAccountId",
    () => management.send(new DisableOrganizationAdminAccountCommand({} as never)),
    { invalidRequest: true },
  );
}

async function driveOrganizations(workloads: readonly string[]): Promise<void> {
  const client = new OrganizationsClient({
    region: "us-east-1",
    endpoint: sandbox.url,
    credentials: { accessKeyId: ADMIN_KEY, secretAccessKey: "sandbox" },
    maxAttempts: 1,
  });
  clients.push(client);
  const describeAccount = (AccountId: string) => client.send(new DescribeAccountCommand({ AccountId }));
  await step("DescribeAccount", () => describeAccount(workloads[0] ?? ""));
  await step("DescribeAccount not in the organization", () => describeAccount("000000000000"));
  await step("DescribeAccount malformed id", () => describeAccount("abc"), { invalidRequest: true });
  await faultPaths("organizations", "DescribeAccount", () => describeAccount(workloads[0] ?? ""));

  const listAccounts = (input = {}) => client.send(new ListAccountsCommand(input));
  const first = await step("ListAccounts page 1", () => listAccounts({ MaxResults: 20 }));
  await step("ListAccounts page 2", () => listAccounts({ MaxResults: 20, NextToken: first?.NextToken }));
  await step("ListAccounts MaxResults 21", () => listAccounts({ MaxResults: 21 }), { invalidRequest: true });
  await step("ListAccounts MaxResults 0", () => listAccounts({ MaxResults: 0 }), { invalidRequest: true });
  await step("ListAccounts bad NextToken", () => listAccounts({ NextToken: "nope" }));
  await faultPaths("organizations", "ListAccounts", () => listAccounts());

  const delegated = (input = {}) => client.send(new ListDelegatedAdministratorsCommand(input));
  await step("ListDelegatedAdministrators", () =>
    delegated({ ServicePrincipal: "guardduty.amazonaws.com", MaxResults: 1 }),
  );
  await step("ListDelegatedAdministrators every service", () => delegated());
  await step("ListDelegatedAdministrators MaxResults 21", () => delegated({ MaxResults: 21 }), {
    invalidRequest: true,
  });
  await step("ListDelegatedAdministrators bad NextToken", () => delegated({ NextToken: "nope" }));
  await faultPaths("organizations", "ListDelegatedAdministrators", () => delegated());

  await step("DescribeOrganization", () => client.send(new DescribeOrganizationCommand({})));
  await faultPaths("organizations", "DescribeOrganization", () =>
    client.send(new DescribeOrganizationCommand({})),
  );
}

/**
 * CloseAccount and RemoveAccountFromOrganization, last (they change the organization the other steps
 * read): the management account's, each through a success and the model's errors.
 */
async function driveOrganizationLifecycle(accounts: readonly string[]): Promise<void> {
  const client = (accessKeyId: string) => {
    const made = new OrganizationsClient({
      region: "us-east-1",
      endpoint: sandbox.url,
      credentials: { accessKeyId, secretAccessKey: "sandbox" },
      maxAttempts: 1,
    });
    clients.push(made);
    return made;
  };
  const management = client(MANAGEMENT_KEY);
  const [closing = "", removing = ""] = accounts.slice(-2);
  const close = (AccountId: string, by = management) => by.send(new CloseAccountCommand({ AccountId }));
  const remove = (AccountId: string, by = management) =>
    by.send(new RemoveAccountFromOrganizationCommand({ AccountId }));
  await step("CloseAccount", () => close(closing));
  const state = async () =>
    (await management.send(new DescribeAccountCommand({ AccountId: closing }))).Account?.State;
  expect(await state()).toBe("PENDING_CLOSURE");
  await step("CloseAccount already closing", () => close(closing));
  await step("CloseAccount by the delegated administrator", () => close(removing, client(ADMIN_KEY)));
  await step("CloseAccount not in the organization", () => close("000000000000"));
  await step("CloseAccount malformed id", () => close("abc"), { invalidRequest: true });
  await vi.waitFor(async () => expect(await state()).toBe("SUSPENDED"), { timeout: 2_000 });
  await step("RemoveAccountFromOrganization", () => remove(removing));
  await step("RemoveAccountFromOrganization not in the organization", () => remove(removing));
  await step("RemoveAccountFromOrganization the management account", () =>
    remove(sandbox.managementAccountId),
  );
}

/** STS injects no faults (the sandbox treats it as a means, not a service under test): input and access errors. */
async function driveSts(created: readonly string[]): Promise<void> {
  const sts = (accessKeyId: string) => {
    const credentials = { accessKeyId, secretAccessKey: "sandbox" };
    const client = new STSClient({ region: REGION, endpoint: sandbox.url, credentials, maxAttempts: 1 });
    clients.push(client);
    return client;
  };
  // OrganizationAccountAccessRole exists in accounts Organizations created, and trusts the management account.
  const management = sts(MANAGEMENT_KEY);
  const target = created[0] ?? "";
  const assume = (
    accountId: string,
    role = "OrganizationAccountAccessRole",
    RoleSessionName = "conformance",
  ) =>
    management.send(
      new AssumeRoleCommand({ RoleArn: `arn:aws:iam::${accountId}:role/${role}`, RoleSessionName }),
    );
  await step("AssumeRole", () => assume(target));
  await step("AssumeRole a role the account does not have", () => assume(target, "NotThere"));
  await step("AssumeRole outside the organization", () => assume("000000000000"));
  await step("AssumeRole one-character session name", () => assume(target, undefined, "x"), {
    invalidRequest: true,
  });

  await step("GetCallerIdentity", () => management.send(new GetCallerIdentityCommand({})));
  await step("GetCallerIdentity unknown access key", () =>
    sts("AKIDNOBODY").send(new GetCallerIdentityCommand({})),
  );
}

/** Account Management injects no faults either (the stack reads opt-in with it): input and access errors. */
async function driveAccount(workloads: readonly string[]): Promise<void> {
  const account = (accessKeyId: string) => {
    const credentials = { accessKeyId, secretAccessKey: "sandbox" };
    const client = new AccountClient({
      region: "us-east-1",
      endpoint: sandbox.url,
      credentials,
      maxAttempts: 1,
    });
    clients.push(client);
    return client;
  };
  const admin = account(ADMIN_KEY);
  const member = workloads[0] ?? "";
  sandbox.enableRegion(member, "af-south-1");
  const list = (input = {}, by = admin) => by.send(new ListRegionsCommand(input));
  const first = await step("ListRegions of a member, page 1", () =>
    list({ AccountId: member, MaxResults: 20, RegionOptStatusContains: ["ENABLED", "ENABLED_BY_DEFAULT"] }),
  );
  await step("ListRegions of a member, page 2", () =>
    list({ AccountId: member, MaxResults: 20, NextToken: first?.NextToken }),
  );
  await step("ListRegions of its own account", () => list());
  await step("ListRegions outside the organization", () => list({ AccountId: "000000000000" }));
  await step("ListRegions by an unknown access key", () => list({}, account("AKIDNOBODY")));
  await step("ListRegions bad NextToken", () => list({ NextToken: "nope" }));
  await step("ListRegions MaxResults 51", () => list({ MaxResults: 51 }), { invalidRequest: true });
  await step("ListRegions unknown status", () => list({ RegionOptStatusContains: ["NOPE"] }), {
    invalidRequest: true,
  });
  const status = (input: object) => admin.send(new GetRegionOptStatusCommand(input as never));
  await step("GetRegionOptStatus", () => status({ AccountId: member, RegionName: "af-south-1" }));
  await step("GetRegionOptStatus unknown region", () => status({ RegionName: "xx-nowhere-1" }));
  await step("GetRegionOptStatus without RegionName", () => status({}), { invalidRequest: true });
}

/** The oracle's verdict on one exchange of a step. */
function problemsOf(step: Step, exchange: Exchange): string[] {
  const model = models[exchange.service];
  const where = `${step.label} (HTTP ${exchange.status})`;
  if (model === undefined || exchange.operation === undefined)
    return [
      `${where}: the sandbox resolved no operation for ${exchange.request.method} ${exchange.request.path}`,
    ];
  const request = validateRequest(model, exchange.operation, exchange.request);
  const problems = validateResponse(model, exchange.operation, exchange).map(
    (p) => `${where} response: ${p}`,
  );
  if (!step.invalidRequest) return [...request.map((p) => `${where} request: ${p}`), ...problems];
  if (request.length === 0)
    problems.unshift(`${where}: the request was meant to break the model, and does not`);
  else if (exchange.status < 400)
    problems.unshift(`${where}: accepted a request the model rejects: ${request.join("; ")}`);
  return problems;
}

const exchangesOf = (key: string) =>
  steps.flatMap((s) =>
    s.exchanges.filter((x) => `${x.service}:${x.operation}` === key).map((x) => [s, x] as const),
  );

beforeAll(async () => {
  sandbox = await startSandbox({
    seed: SEED,
    accountCount: 30,
    onExchange: (exchange) => recorded.push(exchange),
  });
  sandbox.registerCredentials(ADMIN_KEY, sandbox.administratorAccountId);
  sandbox.registerCredentials(MANAGEMENT_KEY, sandbox.managementAccountId);
  const reserved = [sandbox.administratorAccountId, sandbox.managementAccountId];
  const active = sandbox.accounts().filter((a) => a.state === "ACTIVE" && !reserved.includes(a.id));
  const workloads = active.map((account) => account.id);
  await driveGuardDuty(workloads);
  await driveOrganizationMode(workloads);
  await driveOrganizations(workloads);
  await driveAccount(workloads);
  await driveSts(active.filter((account) => account.joinedMethod === "CREATED").map((account) => account.id));
  await driveOrganizationLifecycle(workloads);
});

afterAll(async () => {
  // CONFORMANCE_REPORT=<file> keeps every problem, by operation, for the non-conformance report.
  const out = process.env.CONFORMANCE_REPORT;
  if (out) {
    const problems = Object.fromEntries(
      implemented.map((key) => [key, exchangesOf(key).flatMap(([s, x]) => problemsOf(s, x))]),
    );
    writeFileSync(
      out,
      JSON.stringify(
        {
          problems,
          skippedPatterns: [...skippedPatterns],
          misrouted,
          steps: steps.map((s) => `${s.label}: HTTP ${s.exchanges.map((x) => x.status).join(", ")}`),
        },
        null,
        2,
      ),
    );
  }
  for (const client of clients) client.destroy();
  await sandbox?.close();
});

describe("the sandbox's wire traffic against the botocore models", () => {
  it("exercises exactly the operations the sandbox implements, each under its model name", () => {
    // Act
    const exercised = [...new Set(recorded.map((x) => `${x.service}:${x.operation}`))].sort();

    // Assess
    expect(implemented.length).toBeGreaterThan(0);
    expect({ exercised, misrouted }).toEqual({ exercised: implemented, misrouted: [] });
  });

  it.each(implemented)("%s: went through a success and an error, and every exchange conforms", (key) => {
    // Act
    const exchanges = exchangesOf(key);
    const problems = exchanges.flatMap(([s, x]) => problemsOf(s, x));

    // Assess
    expect({
      success: exchanges.some(([, x]) => x.status < 300),
      error: exchanges.some(([, x]) => x.status >= 400),
      problems,
    }).toEqual({ success: true, error: true, problems: [] });
  });
});
