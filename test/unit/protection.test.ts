import { describe, expect, it } from "vitest";
import { ConfigError } from "#shared/errors";
import {
  actualPlans,
  DEFAULT_PROFILE,
  detectorFeatures,
  differences,
  memberFeatures,
  parseProfile,
  plansAsJson,
  plansFor,
} from "#shared/protection";

const message = (json: string) => {
  try {
    parseProfile(json);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error("parsed");
};

describe("parseProfile", () => {
  it("reads the documented shape, with a region override replacing the default there", () => {
    const profile = parseProfile(
      JSON.stringify({
        default: {
          S3_DATA_EVENTS: "ENABLED",
          RUNTIME_MONITORING: { status: "ENABLED", EC2_AGENT_MANAGEMENT: "ENABLED" },
        },
        regions: { "eu-west-1": { S3_DATA_EVENTS: "DISABLED" } },
      }),
    );

    expect(plansFor(profile, "us-east-1")).toEqual({
      S3_DATA_EVENTS: { status: "ENABLED", additional: {} },
      RUNTIME_MONITORING: { status: "ENABLED", additional: { EC2_AGENT_MANAGEMENT: "ENABLED" } },
    });
    expect(plansFor(profile, "eu-west-1")).toEqual({
      S3_DATA_EVENTS: { status: "DISABLED", additional: {} },
    });
  });

  it("names the bad entry of an invalid profile", () => {
    expect(message("{")).toMatch(/PROTECTION_PLANS.*not JSON/);
    expect(message("[]")).toMatch(/must be an object/);
    expect(message('{"default": {}, "extra": 1}')).toMatch(/unknown key "extra"/);
    expect(message('{"regions": {}}')).toMatch(/"default" must be an object/);
    expect(message('{"default": {"S3_LOGS": "ENABLED"}}')).toMatch(/"default.S3_LOGS": unknown feature/);
    expect(message('{"default": {"S3_DATA_EVENTS": "ON"}}')).toMatch(
      /"default.S3_DATA_EVENTS" must be "ENABLED" or "DISABLED"/,
    );
    expect(message('{"default": {"S3_DATA_EVENTS": 1}}')).toMatch(/must be "ENABLED", "DISABLED" or/);
    expect(
      message('{"default": {"S3_DATA_EVENTS": {"status": "ENABLED", "EC2_AGENT_MANAGEMENT": "ENABLED"}}}'),
    ).toMatch(/S3_DATA_EVENTS has no additional configuration/);
    expect(message('{"default": {"RUNTIME_MONITORING": {"status": "ENABLED", "GPU": "ENABLED"}}}')).toMatch(
      /"default.RUNTIME_MONITORING.GPU": unknown additional configuration/,
    );
    expect(
      message('{"default": {"EKS_RUNTIME_MONITORING": "ENABLED", "RUNTIME_MONITORING": "ENABLED"}}'),
    ).toMatch(/EKS_RUNTIME_MONITORING and RUNTIME_MONITORING cannot be given together/);
    expect(message('{"default": {}, "regions": []}')).toMatch(/"regions" must be an object/);
    expect(message('{"default": {}, "regions": {"mars": {}}}')).toMatch(/"regions.mars" is not a region/);
    expect(message('{"default": {}, "regions": {"eu-west-1": "ENABLED"}}')).toMatch(
      /"regions.eu-west-1" must be an object/,
    );
  });

  it("defaults to every plan on but Runtime Monitoring, which is named off with its agent options", () => {
    const plans = plansFor(DEFAULT_PROFILE, "ap-south-1");
    expect(
      Object.entries(plans)
        .filter(([, { status }]) => status === "ENABLED")
        .map(([name]) => name),
    ).toEqual([
      "S3_DATA_EVENTS",
      "EKS_AUDIT_LOGS",
      "EBS_MALWARE_PROTECTION",
      "RDS_LOGIN_EVENTS",
      "LAMBDA_NETWORK_LOGS",
    ]);
    expect(plans.RUNTIME_MONITORING?.status).toBe("DISABLED");
  });
});

describe("features on the wire and back", () => {
  const plans = plansFor(DEFAULT_PROFILE, "us-east-1");

  it("names every plan, with additional configuration only where the feature has some", () => {
    const features = detectorFeatures(plans);
    expect(features.find((feature) => feature.Name === "S3_DATA_EVENTS")).toEqual({
      Name: "S3_DATA_EVENTS",
      Status: "ENABLED",
      AdditionalConfiguration: undefined,
    });
    expect(memberFeatures(plans)).toEqual(features);
  });

  it("finds no difference when the read-back equals the profile, and names each one otherwise", () => {
    const same = actualPlans(detectorFeatures(plans));
    expect(differences(plans, same)).toEqual([]);

    const drifted = actualPlans([
      ...detectorFeatures(plans).filter(
        (feature) => feature.Name !== "EKS_AUDIT_LOGS" && feature.Name !== "RUNTIME_MONITORING",
      ),
      {
        Name: "RUNTIME_MONITORING",
        Status: "DISABLED",
        AdditionalConfiguration: [{ Name: "EC2_AGENT_MANAGEMENT", Status: "ENABLED" }],
      },
      { Name: "CLOUD_TRAIL", Status: "ENABLED" },
      { Status: "ENABLED" },
    ]);
    expect(differences(plans, drifted)).toEqual([
      "EKS_AUDIT_LOGS is DISABLED, wanted ENABLED",
      "RUNTIME_MONITORING.EC2_AGENT_MANAGEMENT is ENABLED, wanted DISABLED",
    ]);
    expect(plansAsJson(drifted)).toMatchObject({
      CLOUD_TRAIL: "ENABLED",
      RUNTIME_MONITORING: {
        status: "DISABLED",
        EC2_AGENT_MANAGEMENT: "ENABLED",
      },
    });
  });
});
