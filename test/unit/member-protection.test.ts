import {
  BadRequestException,
  DescribeOrganizationConfigurationCommand,
  GetMemberDetectorsCommand,
  GetMembersCommand,
  GuardDutyClient,
  ListDetectorsCommand,
  StartMonitoringMembersCommand,
  UpdateMemberDetectorsCommand,
} from "@aws-sdk/client-guardduty";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it } from "vitest";
import { RegionProtection } from "#shared/member-protection";
import { DEFAULT_PROFILE, detectorFeatures, parseProfile, plansFor } from "#shared/protection";

const guardduty = mockClient(GuardDutyClient);
const client = new GuardDutyClient({
  region: "us-east-1",
  credentials: { accessKeyId: "a", secretAccessKey: "b" },
});
const [A, B, C] = ["222222222222", "333333333333", "444444444444"] as const;
const profile = detectorFeatures(plansFor(DEFAULT_PROFILE, "us-east-1"));
const drifted = profile.map((feature) =>
  feature.Name === "S3_DATA_EVENTS" ? { ...feature, Status: "DISABLED" as const } : feature,
);
const detectors = (...members: [string, typeof profile][]) => ({
  MemberDataSourceConfigurations: members.map(([AccountId, Features]) => ({ AccountId, Features }) as never),
  UnprocessedAccounts: [],
});
const enabled = (...ids: string[]) => ({
  Members: ids.map((AccountId) => ({ AccountId, RelationshipStatus: "Enabled" }) as never),
});
const protection = (mode: "invitation" | "organization" = "invitation", plans = DEFAULT_PROFILE) =>
  new RegionProtection(client, "us-east-1", { protection: plans, mode });

beforeEach(() => {
  guardduty.reset();
  guardduty.on(ListDetectorsCommand).resolves({ DetectorIds: ["admin-detector"] });
});

describe("RegionProtection.verify", () => {
  it("counts a member protected when it is Enabled and its plans read back equal to the profile, without updating it", async () => {
    guardduty.on(GetMembersCommand).resolves(enabled(A));
    guardduty.on(GetMemberDetectorsCommand).resolves(detectors([A, profile]));

    const outcomes = await protection().verify([A]);

    expect(outcomes.get(A)).toEqual({ outcome: "protected", memberStatus: "Enabled" });
    expect(guardduty.commandCalls(UpdateMemberDetectorsCommand)).toHaveLength(0);
  });

  it("brings a member whose plans drifted back to the profile and reads it back", async () => {
    guardduty.on(GetMembersCommand).resolves(enabled(A, B));
    guardduty
      .on(GetMemberDetectorsCommand)
      .resolvesOnce(detectors([A, drifted], [B, profile]))
      .resolves(detectors([A, profile]));
    guardduty.on(UpdateMemberDetectorsCommand).resolves({ UnprocessedAccounts: [] });

    const outcomes = await protection().verify([A, B]);

    expect(outcomes.get(A)).toEqual({
      outcome: "protected",
      memberStatus: "Enabled",
      reason: "plans-applied",
    });
    expect(outcomes.get(B)).toEqual({ outcome: "protected", memberStatus: "Enabled" });
    expect(guardduty.commandCalls(UpdateMemberDetectorsCommand)[0]?.args[0].input).toMatchObject({
      DetectorId: "admin-detector",
      AccountIds: [A],
    });
  });

  it("retries naming what differs when the update did not take, and a member GuardDuty calls not associated", async () => {
    guardduty.on(GetMembersCommand).resolves(enabled(A, B));
    guardduty.on(GetMemberDetectorsCommand).resolves(detectors([A, drifted], [B, drifted]));
    guardduty.on(UpdateMemberDetectorsCommand).resolves({
      UnprocessedAccounts: [
        {
          AccountId: B,
          Result:
            "The request is rejected because the input account ID is not an associated member of account 111111111111.",
        },
      ],
    });

    const outcomes = await protection().verify([A, B]);

    expect(outcomes.get(A)).toEqual({
      outcome: "retry",
      reason: "plans-differ",
      detail: "S3_DATA_EVENTS is DISABLED, wanted ENABLED",
      step: "verify",
    });
    expect(outcomes.get(B)).toMatchObject({
      outcome: "retry",
      reason: "member-not-associated",
      step: "verify",
    });
  });

  it("retries members that are not Enabled yet, or that GetMemberDetectors leaves out, and classifies other unprocessed texts", async () => {
    guardduty.on(GetMembersCommand).resolves({
      Members: [
        { AccountId: A, RelationshipStatus: "Invited" },
        { AccountId: B, RelationshipStatus: "Enabled" },
        { AccountId: C, RelationshipStatus: "Enabled" },
      ] as never,
    });
    guardduty.on(GetMemberDetectorsCommand).resolves({
      MemberDataSourceConfigurations: [],
      UnprocessedAccounts: [{ AccountId: C, Result: "Internal error" }],
    });

    const outcomes = await protection().verify([A, B, C, "555555555555"]);

    expect(outcomes.get(A)).toMatchObject({
      outcome: "retry",
      reason: "member-not-associated",
      memberStatus: "Invited",
    });
    expect(outcomes.get(B)).toMatchObject({ outcome: "retry", reason: "member-not-associated" });
    expect(outcomes.get(C)).toMatchObject({ outcome: "retry", reason: "guardduty-internal-error" });
    expect(outcomes.get("555555555555")).toMatchObject({
      reason: "member-not-associated",
      detail: expect.stringMatching(/absent/),
    });
  });

  it("classifies a failed call for the accounts it left undecided, and dead-letters a region without an administrator detector", async () => {
    guardduty.on(GetMembersCommand).resolves(enabled(A));
    guardduty
      .on(GetMemberDetectorsCommand)
      .rejects(new BadRequestException({ message: "bad", $metadata: { httpStatusCode: 400 } }));
    expect((await protection().verify([A])).get(A)).toMatchObject({
      outcome: "dead-letter",
      reason: "rejected-by-guardduty",
      step: "verify",
    });

    guardduty.on(ListDetectorsCommand).resolves({ DetectorIds: [] });
    expect((await protection().verify([A])).get(A)).toMatchObject({
      outcome: "dead-letter",
      reason: "guardduty-not-enabled-in-region",
    });

    guardduty
      .on(ListDetectorsCommand)
      .rejects(Object.assign(new Error("down"), { $metadata: { httpStatusCode: 503 } }));
    expect((await protection().verify([A])).get(A)).toMatchObject({
      outcome: "retry",
      reason: "service-unavailable",
    });
  });
});

describe("RegionProtection.verify of a member whose monitoring stopped", () => {
  it("starts monitoring again (StartMonitoringMembers) and verifies it; one still Disabled is retried as a suspended detector, a refused one as GuardDuty said", async () => {
    const status = (AccountId: string, RelationshipStatus: string) =>
      ({ AccountId, RelationshipStatus }) as never;
    guardduty
      .on(GetMembersCommand)
      .resolvesOnce({ Members: [status(A, "Disabled"), status(B, "Disabled"), status(C, "Disabled")] })
      .resolves({ Members: [status(A, "Enabled"), status(B, "Disabled")] });
    guardduty.on(StartMonitoringMembersCommand).resolves({
      UnprocessedAccounts: [
        {
          AccountId: C,
          Result: "The request is rejected because the input detectorId is not owned by the current account.",
        },
      ],
    });
    guardduty.on(GetMemberDetectorsCommand).resolves(detectors([A, profile]));

    const outcomes = await protection().verify([A, B, C]);

    expect(guardduty.commandCalls(StartMonitoringMembersCommand)[0]?.args[0].input).toEqual({
      DetectorId: "admin-detector",
      AccountIds: [A, B, C],
    });
    expect(outcomes.get(A)).toEqual({ outcome: "protected", memberStatus: "Enabled" });
    expect(outcomes.get(B)).toMatchObject({
      outcome: "retry",
      reason: "member-not-associated",
      detail: expect.stringContaining("its own detector is suspended"),
      step: "verify",
    });
    expect(outcomes.get(C)).toMatchObject({ step: "verify", detail: expect.stringContaining("not owned") });
  });
});

describe("RegionProtection.organizationFindings", () => {
  it("reports, once, where the organization's auto-enable contradicts the profile and a reached member limit", async () => {
    guardduty.on(DescribeOrganizationConfigurationCommand).resolves({
      MemberAccountLimitReached: true,
      Features: [
        { Name: "S3_DATA_EVENTS", AutoEnable: "ALL" },
        { Name: "EKS_AUDIT_LOGS", AutoEnable: "NEW" },
        { Name: "RUNTIME_MONITORING", AutoEnable: "NEW" },
      ],
    });
    const regional = protection("organization");

    const findings = (await regional.organizationFindings()).map(({ finding }) => finding);

    expect(findings).toEqual([
      "MemberAccountLimitReached: no more members can be added",
      "EKS_AUDIT_LOGS auto-enable is NEW: the profile wants it on, so it is applied member by member",
      "EBS_MALWARE_PROTECTION auto-enable is NONE: the profile wants it on, so it is applied member by member",
      "RDS_LOGIN_EVENTS auto-enable is NONE: the profile wants it on, so it is applied member by member",
      "LAMBDA_NETWORK_LOGS auto-enable is NONE: the profile wants it on, so it is applied member by member",
      "RUNTIME_MONITORING auto-enable is NEW: the organization turns on a plan the profile turns off",
    ]);
    expect(await regional.organizationFindings()).toEqual([]);
    expect(guardduty.commandCalls(DescribeOrganizationConfigurationCommand)).toHaveLength(1);
  });

  it("asks nothing in invitation mode, nor where the administrator has no detector", async () => {
    expect(await protection("invitation").organizationFindings()).toEqual([]);
    guardduty.on(ListDetectorsCommand).resolves({ DetectorIds: [] });
    expect(await protection("organization", parseProfile('{"default": {}}')).organizationFindings()).toEqual(
      [],
    );
    expect(guardduty.commandCalls(DescribeOrganizationConfigurationCommand)).toHaveLength(0);
  });
});
