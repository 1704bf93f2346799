import {
  AcceptAdministratorInvitationCommand,
  BadRequestException,
  CreateDetectorCommand,
  GetAdministratorAccountCommand,
  GuardDutyClient,
  ListDetectorsCommand,
  ListInvitationsCommand,
  UpdateDetectorCommand,
} from "@aws-sdk/client-guardduty";
import { AssumeRoleCommand, STSClient, STSServiceException } from "@aws-sdk/client-sts";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it } from "vitest";
import { MemberAcceptance } from "#shared/acceptance";
import { MEMBER_ACTIONS, memberSessionPolicy } from "#shared/member-session";
import { DEFAULT_PROFILE, detectorFeatures, plansFor } from "#shared/protection";

const ADMIN = "111111111111";
const MEMBER = "222222222222";
const sts = mockClient(STSClient);
const guardduty = mockClient(GuardDutyClient);
const built: { region: string; accessKeyId: string }[] = [];
const acceptance = new MemberAcceptance(
  new STSClient({ region: "us-east-1", credentials: { accessKeyId: "a", secretAccessKey: "b" } }),
  (region, credentials) => {
    built.push({ region, accessKeyId: credentials.accessKeyId });
    return new GuardDutyClient({ region, credentials });
  },
  {
    roleName: "GuardDutyOnboardingMember",
    externalId: "ext-1",
    administratorAccountId: ADMIN,
    sessionName: "guardduty-onboarding-prod-onboard",
    sourceIdentity: true,
    protection: DEFAULT_PROFILE,
  },
);

beforeEach(() => {
  sts.reset();
  guardduty.reset();
  built.length = 0;
  sts.on(AssumeRoleCommand).resolves({
    Credentials: {
      AccessKeyId: "ASIAMEMBER",
      SecretAccessKey: "s",
      SessionToken: "t",
      Expiration: new Date(),
    },
  });
  guardduty.on(ListDetectorsCommand).resolves({ DetectorIds: [] });
  guardduty.on(CreateDetectorCommand).resolves({ DetectorId: "member-detector" });
  guardduty.on(ListInvitationsCommand).resolves({
    Invitations: [
      { AccountId: "999999999999", InvitationId: "someone-else" },
      { AccountId: ADMIN, InvitationId: "inv-1" },
    ],
  });
  guardduty.on(AcceptAdministratorInvitationCommand).resolves({});
});

describe("MemberAcceptance.accept", () => {
  it("assumes the member role once, in a named session narrowed to the member-side calls, creates the member's detector and accepts the administrator's invitation", async () => {
    const outcomes = await acceptance.accept(MEMBER, ["us-east-1", "eu-west-1"]);

    expect(Object.fromEntries(outcomes)).toEqual({
      "us-east-1": { outcome: "enabled", memberStatus: "Enabled" },
      "eu-west-1": { outcome: "enabled", memberStatus: "Enabled" },
    });
    // The default-on rule: CreateDetector without Features turns on every optional plan but Runtime
    // Monitoring, so every plan of the profile is named, unwanted ones DISABLED.
    const created = guardduty.commandCalls(CreateDetectorCommand)[0]?.args[0].input;
    expect(created?.Enable).toBe(true);
    expect(created?.Features).toContainEqual({
      Name: "RUNTIME_MONITORING",
      Status: "DISABLED",
      AdditionalConfiguration: [
        { Name: "EKS_ADDON_MANAGEMENT", Status: "DISABLED" },
        { Name: "ECS_FARGATE_AGENT_MANAGEMENT", Status: "DISABLED" },
        { Name: "EC2_AGENT_MANAGEMENT", Status: "DISABLED" },
      ],
    });
    expect(created?.Features?.map((feature) => feature.Name).sort()).toEqual(
      Object.keys(DEFAULT_PROFILE.default).sort(),
    );
    expect(guardduty.commandCalls(UpdateDetectorCommand)).toHaveLength(0);
    expect(sts.commandCalls(AssumeRoleCommand).map((call) => call.args[0].input)).toEqual([
      {
        RoleArn: `arn:aws:iam::${MEMBER}:role/GuardDutyOnboardingMember`,
        RoleSessionName: "guardduty-onboarding-prod-onboard",
        SourceIdentity: "guardduty-onboarding-prod-onboard",
        ExternalId: "ext-1",
        DurationSeconds: 900,
        Policy: memberSessionPolicy(["us-east-1", "eu-west-1"]),
      },
    ]);
    const policy = JSON.parse(sts.commandCalls(AssumeRoleCommand)[0]?.args[0].input.Policy ?? "{}");
    expect(policy.Statement[0]).toMatchObject({
      Action: [...MEMBER_ACTIONS],
      Resource: "*",
      Condition: { StringEquals: { "aws:RequestedRegion": ["us-east-1", "eu-west-1"] } },
    });
    expect(built).toEqual([
      { region: "us-east-1", accessKeyId: "ASIAMEMBER" },
      { region: "eu-west-1", accessKeyId: "ASIAMEMBER" },
    ]);
    expect(guardduty.commandCalls(AcceptAdministratorInvitationCommand)[0]?.args[0].input).toEqual({
      DetectorId: "member-detector",
      AdministratorId: ADMIN,
      InvitationId: "inv-1",
    });
  });

  it("uses the detector the member already has instead of creating one", async () => {
    guardduty.on(ListDetectorsCommand).resolves({ DetectorIds: ["existing"] });

    const outcomes = await acceptance.accept(MEMBER, ["us-east-1"]);

    expect(outcomes.get("us-east-1")).toEqual({ outcome: "enabled", memberStatus: "Enabled" });
    expect(guardduty.commandCalls(CreateDetectorCommand)).toHaveLength(0);
    // Brought to the profile: every plan named, Runtime Monitoring explicitly off.
    expect(guardduty.commandCalls(UpdateDetectorCommand)[0]?.args[0].input).toEqual({
      DetectorId: "existing",
      Features: detectorFeatures(plansFor(DEFAULT_PROFILE, "us-east-1")),
    });
    expect(guardduty.commandCalls(AcceptAdministratorInvitationCommand)[0]?.args[0].input.DetectorId).toBe(
      "existing",
    );
    // The session acts only in the regions it accepts in (whatever the stage manages: regions all).
    expect(sts.commandCalls(AssumeRoleCommand)[0]?.args[0].input.Policy).toBe(
      memberSessionPolicy(["us-east-1"]),
    );
  });

  it("dead-letters every region as member-role-not-assumable when STS denies the role, resuming at acceptance", async () => {
    sts.on(AssumeRoleCommand).rejects(
      new STSServiceException({
        name: "AccessDenied",
        $fault: "client",
        message: "not authorized",
        $metadata: { httpStatusCode: 403 },
      }),
    );

    const outcomes = await acceptance.accept(MEMBER, ["us-east-1", "eu-west-1"]);

    for (const region of ["us-east-1", "eu-west-1"]) {
      expect(outcomes.get(region)).toMatchObject({
        outcome: "dead-letter",
        reason: "member-role-not-assumable",
        step: "accept",
      });
    }
    expect(guardduty.calls()).toHaveLength(0);
  });

  it("retries as invitation-not-found while the invitation has not reached the member", async () => {
    guardduty.on(ListInvitationsCommand).resolves({ Invitations: [] });
    guardduty.on(GetAdministratorAccountCommand).resolves({ Administrator: undefined });

    const outcomes = await acceptance.accept(MEMBER, ["us-east-1"]);

    expect(outcomes.get("us-east-1")).toMatchObject({
      outcome: "retry",
      reason: "invitation-not-found",
      step: "accept",
    });
    expect(guardduty.commandCalls(AcceptAdministratorInvitationCommand)).toHaveLength(0);
  });

  it("counts a member that already accepted as already a member", async () => {
    guardduty.on(ListDetectorsCommand).resolves({ DetectorIds: ["existing"] });
    guardduty.on(ListInvitationsCommand).resolves({ Invitations: [] });
    guardduty.on(GetAdministratorAccountCommand).resolves({
      Administrator: { AccountId: ADMIN, RelationshipStatus: "Enabled", InvitationId: "inv-1" },
    });

    const outcomes = await acceptance.accept(MEMBER, ["us-east-1"]);

    expect(outcomes.get("us-east-1")).toEqual({
      outcome: "already",
      reason: "already-member",
      memberStatus: "Enabled",
    });
  });

  it("retries a throttled STS call instead of dead-lettering it", async () => {
    sts.on(AssumeRoleCommand).rejects(
      new STSServiceException({
        name: "Throttling",
        $fault: "client",
        message: "Rate exceeded",
        $metadata: { httpStatusCode: 400 },
      }),
    );

    const outcomes = await acceptance.accept(MEMBER, ["us-east-1"]);

    expect(outcomes.get("us-east-1")).toMatchObject({
      outcome: "retry",
      reason: "throttled",
      step: "accept",
    });
  });
});

describe("MemberAcceptance after a lost answer (the SDK retried a call that had succeeded)", () => {
  it("uses the detector a retried CreateDetector already created", async () => {
    guardduty
      .on(ListDetectorsCommand)
      .resolvesOnce({ DetectorIds: [] })
      .resolves({ DetectorIds: ["created-before"] });
    guardduty.on(CreateDetectorCommand).rejects(
      new BadRequestException({
        message: "A detector already exists for the current account.",
        $metadata: { httpStatusCode: 400 },
      }),
    );

    const outcomes = await acceptance.accept(MEMBER, ["us-east-1"]);

    expect(outcomes.get("us-east-1")).toEqual({ outcome: "enabled", memberStatus: "Enabled" });
    expect(guardduty.commandCalls(AcceptAdministratorInvitationCommand)[0]?.args[0].input.DetectorId).toBe(
      "created-before",
    );
  });

  it("counts an invitation a retried AcceptAdministratorInvitation already accepted as enabled", async () => {
    guardduty.on(AcceptAdministratorInvitationCommand).rejects(
      new BadRequestException({
        message: "The request is rejected because the input invitationId is not valid.",
        $metadata: { httpStatusCode: 400 },
      }),
    );
    guardduty.on(GetAdministratorAccountCommand).resolves({
      Administrator: { AccountId: ADMIN, RelationshipStatus: "Enabled", InvitationId: "inv-1" },
    });

    const outcomes = await acceptance.accept(MEMBER, ["us-east-1"]);

    expect(outcomes.get("us-east-1")).toEqual({ outcome: "enabled", memberStatus: "Enabled" });
  });

  it("still dead-letters a rejected acceptance the member's state does not explain", async () => {
    guardduty.on(AcceptAdministratorInvitationCommand).rejects(
      new BadRequestException({
        message: "The request is rejected because the input invitationId is not valid.",
        $metadata: { httpStatusCode: 400 },
      }),
    );
    guardduty.on(GetAdministratorAccountCommand).resolves({ Administrator: undefined });

    const outcomes = await acceptance.accept(MEMBER, ["us-east-1"]);

    expect(outcomes.get("us-east-1")).toMatchObject({
      outcome: "dead-letter",
      reason: "rejected-by-guardduty",
      step: "accept",
    });
  });
});
