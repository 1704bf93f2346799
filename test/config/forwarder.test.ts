import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";

/**
 * forwarder/template.yml, deployed in the Organizations management account, forwards the same
 * account-created events the main stack's rules match to the GuardDuty administrator's default bus.
 * Both templates use long-form intrinsics (`Fn::Sub`, `Ref`), so plain YAML parsing reads them.
 */
type Json = Record<string, unknown>;
interface Resource {
  Type: string;
  Properties: Json;
}
interface Template {
  Parameters: Record<string, { AllowedPattern: string }>;
  Resources: Record<string, Resource>;
}

const forwarder = parse(readFileSync("forwarder/template.yml", "utf8")) as Template;
const stack = (parse(readFileSync("serverless.yml", "utf8")) as { resources: Template }).resources;

/** The account-created rules: every rule with an event pattern (not a schedule). */
const rulesOf = (template: Template) =>
  Object.fromEntries(
    Object.entries(template.Resources).filter(
      ([, resource]) => resource.Type === "AWS::Events::Rule" && resource.Properties.EventPattern,
    ),
  );
const BUS = { Ref: "AdministratorEventBusArn" };
/** Rules of the administrator account's own events, which the management account has none of. */
const ADMINISTRATOR_ONLY = ["GuardDutyTamperSignalRule"];

describe("forwarder template", () => {
  it("forwards exactly the events the main stack's rules match, one rule per pattern", () => {
    const forwarded = rulesOf(forwarder);
    const matched = Object.fromEntries(
      Object.entries(rulesOf(stack)).filter(([name]) => !ADMINISTRATOR_ONLY.includes(name)),
    );

    expect(Object.keys(forwarded).sort()).toEqual(Object.keys(matched).sort());
    for (const [name, rule] of Object.entries(matched)) {
      expect(forwarded[name]?.Properties.EventPattern, name).toEqual(rule.Properties.EventPattern);
    }
    expect(Object.keys(forwarded)).toHaveLength(4);
  });

  it("targets the administrator's default bus through the forwarder role", () => {
    for (const [name, rule] of Object.entries(rulesOf(forwarder))) {
      expect(rule.Properties.Targets, name).toEqual([
        { Id: "administrator-event-bus", Arn: BUS, RoleArn: { "Fn::GetAtt": ["ForwarderRole", "Arn"] } },
      ]);
      expect(rule.Properties.EventBusName ?? "default", name).toBe("default");
    }
  });

  it("lets the role put events on that one bus, and only this stack's rules assume it", () => {
    const role = forwarder.Resources.ForwarderRole?.Properties as {
      AssumeRolePolicyDocument: { Statement: Json[] };
      Policies: { PolicyDocument: { Statement: Json[] } }[];
    };
    const ruleArns = Object.values(rulesOf(forwarder)).map((rule) => {
      const name = (rule.Properties.Name as { "Fn::Sub": string })["Fn::Sub"];
      return { "Fn::Sub": `arn:\${AWS::Partition}:events:\${AWS::Region}:\${AWS::AccountId}:rule/${name}` };
    });

    expect(role.Policies.flatMap((policy) => policy.PolicyDocument.Statement)).toEqual([
      { Effect: "Allow", Action: "events:PutEvents", Resource: BUS },
    ]);
    expect(role.AssumeRolePolicyDocument.Statement).toEqual([
      {
        Effect: "Allow",
        Principal: { Service: "events.amazonaws.com" },
        Action: "sts:AssumeRole",
        Condition: {
          StringEquals: { "aws:SourceAccount": { Ref: "AWS::AccountId" } },
          ArnEquals: { "aws:SourceArn": ruleArns },
        },
      },
    ]);
    expect(Object.values(forwarder.Resources).map((resource) => resource.Type)).not.toContain(
      "AWS::IAM::Policy",
    );
  });

  it("accepts only an account's default event bus as the destination", () => {
    const pattern = new RegExp(forwarder.Parameters.AdministratorEventBusArn?.AllowedPattern ?? "^$");
    const accepted = [
      "arn:aws:events:us-east-1:210987654321:event-bus/default",
      "arn:aws-us-gov:events:us-gov-west-1:210987654321:event-bus/default",
    ];
    const rejected = [
      "arn:aws:events:us-east-1:210987654321:event-bus/custom",
      "arn:aws:events:us-east-1:210987654321:rule/default",
      "arn:aws:events:us-east-1:21098765432:event-bus/default",
      "210987654321",
    ];

    expect(accepted.filter((arn) => !pattern.test(arn))).toEqual([]);
    expect(rejected.filter((arn) => pattern.test(arn))).toEqual([]);
  });
});
