import { beforeAll, describe, expect, it } from "vitest";
import { loadStageConfig } from "#shared/config";
import { guardDutyRegions } from "#shared/managed-regions";
import { readStack } from "../../local/stack.ts";
import { Authorizer, type PolicyDocument, type Principal } from "../../sandbox/iam.ts";
import { ACCOUNT, list, policiesIn, type Statement, statementsOf } from "../support/iam-replay.ts";
import { type IsolatedPackage, packageIsolated } from "../support/isolated-package.ts";

/**
 * The stack packaged with `--param regions=all`: the regions are discovered at run time, so no policy
 * may be conditioned on the literal "all" (which would deny everything). Every aws:RequestedRegion
 * condition is the partition's GuardDuty regions (shared/guardduty-regions.json, the GuardDutyRegions
 * mapping), and the roles that discover may list their own account's regions, nothing more.
 */
let packaged: IsolatedPackage;
const stack = readStack();
const roleOf = (fn: string) => stack.functions[fn]?.role as string;
const OWNERS = () => ({
  onboard: roleOf("onboard"),
  accept: roleOf("accept"),
  reconcile: roleOf("reconcile"),
  operator: "OperatorPolicy",
});
const authorizer = new Authorizer();

beforeAll(async () => {
  packaged = await packageIsolated(["--stage", "test", "--param", "regions=all"]);
}, 180_000);

function policies(owner: string, partition = "aws"): PolicyDocument[] {
  return policiesIn(packaged.template, owner, { partition });
}

const regionConditions = (statements: Statement[]) =>
  statements.flatMap((statement) => {
    const value = statement.Condition?.StringEquals?.["aws:RequestedRegion"];
    return value === undefined ? [] : [list(value)];
  });

function principal(name: string, documents: PolicyDocument[]): Principal {
  return {
    accountId: ACCOUNT,
    arn: `arn:aws:sts::${ACCOUNT}:assumed-role/${name}/test`,
    principalArn: `arn:aws:iam::${ACCOUNT}:role/${name}`,
    userId: `AROA${ACCOUNT}:test`,
    policies: documents,
    organizationId: "o-exampleorg1",
  };
}

describe("the stack with regions all", () => {
  it("gives the functions GUARDDUTY_REGIONS=all, which their configuration takes", () => {
    const variables = packaged.template.Resources.OnboardLambdaFunction?.Properties.Environment as {
      Variables: Record<string, unknown>;
    };

    expect(variables.Variables.GUARDDUTY_REGIONS).toBe("all");
    expect(loadStageConfig({ GUARDDUTY_REGIONS: "all", AWS_REGION: "us-east-1" }).regions).toBe("all");
  });

  it("conditions every GuardDuty statement on the partition's GuardDuty regions, never on 'all'", () => {
    for (const [partition, expected] of [
      ["aws", guardDutyRegions("aws")],
      ["aws-cn", guardDutyRegions("aws-cn")],
    ] as const) {
      const conditions = Object.values(OWNERS()).flatMap((owner) =>
        regionConditions(policies(owner, partition).flatMap(statementsOf)),
      );
      const guardduty = Object.values(OWNERS()).flatMap((owner) =>
        policies(owner, partition)
          .flatMap(statementsOf)
          .filter((statement) => list(statement.Action).some((action) => action.startsWith("guardduty:"))),
      );

      expect(guardduty.length, partition).toBeGreaterThanOrEqual(3);
      for (const statement of guardduty) {
        expect(list(statement.Resource), `${partition} ${statement.Sid}`).toEqual(["*"]);
        expect(regionConditions([statement]), `${partition} ${statement.Sid}`).toEqual([[...expected]]);
      }
      for (const regions of conditions) {
        expect(regions, partition).not.toContain("all");
        expect(regions.length, partition).toBeGreaterThan(0);
      }
    }
  });

  it("lets onboard, reconcile and the operator list their own account's regions and no other's; accept, nothing of the Account API", async () => {
    const own = `arn:aws:account::${ACCOUNT}:account`;
    const member = "arn:aws:account::111111111111:account/o-exampleorg1/123456789012";
    for (const [name, owner] of Object.entries(OWNERS())) {
      const who = principal(name, policies(owner));
      const allowed = async (resource: string) =>
        (
          await authorizer.authorize({
            principal: who,
            action: "account:ListRegions",
            resource,
            context: { "aws:RequestedRegion": "us-east-1" },
          })
        ).allowed;

      expect(await allowed(own), `${name}: own account`).toBe(name !== "accept");
      // The reconcile and the operator read members' opt-in (accountInOrganization), as with a list.
      expect(await allowed(member), `${name}: a member`).toBe(name === "reconcile" || name === "operator");
      expect(await allowed(`arn:aws:account::999999999999:account`), `${name}: another account`).toBe(false);
    }
  });

  it("lets onboard find its detector in an opt-in region of the partition, and nowhere outside it", async () => {
    const who = principal("onboard", policies(OWNERS().onboard));
    const listDetectors = async (region: string) =>
      (
        await authorizer.authorize({
          principal: who,
          action: "guardduty:ListDetectors",
          resource: "*",
          context: { "aws:RequestedRegion": region },
        })
      ).allowed;

    expect(await listDetectors("ap-southeast-7")).toBe(true);
    expect(await listDetectors("us-east-1")).toBe(true);
    expect(await listDetectors("all")).toBe(false);
    expect(await listDetectors("cn-north-1")).toBe(false);
  });
});
