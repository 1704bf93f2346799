/**
 * Who calls what on the local stack, with the permissions a deployment would give them: each function
 * signs with credentials of its own role, whose policies are the ones serverless.yml declares; the
 * operator (`gd-onboard`, the AWS CLI) with the stack's OperatorPolicy; member accounts hold the role
 * member-role/template.yml creates (and OrganizationAccountAccessRole, as Organizations creates it).
 * The sandbox then enforces those documents on every call (`sandbox/iam.ts`).
 */
import { readFileSync } from "node:fs";
import { parse } from "yaml";
import type { PolicyDocument } from "../sandbox/iam.ts";
import { organizationAccountAccessRole, type PrincipalInput, type RoleInput } from "../sandbox/identity.ts";
import type { OrgAccount } from "../sandbox/scenario.ts";
import { ALL_REGIONS } from "../shared/managed-regions.ts";
import { type Deployment, type Template, TemplateEvaluator } from "./cloudformation.ts";
import type { StackDefinition } from "./stack.ts";

/** Credentials as the SDK reads them from the environment. */
export type CredentialsEnv = Readonly<
  Record<"AWS_ACCESS_KEY_ID" | "AWS_SECRET_ACCESS_KEY" | "AWS_SESSION_TOKEN", string>
>;

/**
 * `documented`: members hold the role of member-role/template.yml, trusting the accept function's
 * role (the default: the StackSet is deployed). `organization-access`: they hold only
 * OrganizationAccountAccessRole, which trusts the management account alone — the delegated
 * administrator's situation when the StackSet was not deployed.
 */
export type MemberRoleScenario = "documented" | "organization-access";

export interface LocalIdentities {
  /** Access key → principal, for the sandbox. */
  readonly principals: Readonly<Record<string, PrincipalInput>>;
  /** The roles each member account holds. */
  readonly memberRoles: readonly ((account: OrgAccount) => RoleInput | undefined)[];
  /** Credentials of each function's role, by function name (`onboard`, `accept`, `reconcile`). */
  readonly functions: Readonly<Record<string, CredentialsEnv>>;
  /** Credentials of an operator whose role has the stack's OperatorPolicy. */
  readonly operator: CredentialsEnv;
  /** Role ARN of each function, by function name. */
  readonly roleArns: Readonly<Record<string, string>>;
}

export const MEMBER_ROLE_TEMPLATE = "member-role/template.yml";

/**
 * The stage parameters that go with a member-role scenario: without the StackSet's role, a stage can only
 * be told to use OrganizationAccountAccessRole, whose trust allows no SourceIdentity.
 */
export function memberRoleParams(scenario: MemberRoleScenario): Readonly<Record<string, string>> {
  return scenario === "organization-access"
    ? { memberRoleName: "OrganizationAccountAccessRole", memberSourceIdentity: "false" }
    : {};
}

/** Reads a `--member-roles` value. */
export function memberRoleScenario(value: string): MemberRoleScenario {
  if (value !== "documented" && value !== "organization-access") {
    throw new Error(`--member-roles: "${value}" must be "documented" or "organization-access"`);
  }
  return value;
}

/** The identity policies of an AWS::IAM::Role or AWS::IAM::ManagedPolicy, evaluated. */
export function policiesOf(properties: Record<string, unknown>): PolicyDocument[] {
  if (properties.ManagedPolicyArns !== undefined) {
    throw new Error("managed policy ARNs are not evaluated locally: keep the stack's policies inline");
  }
  if (properties.PolicyDocument !== undefined) return [properties.PolicyDocument as PolicyDocument];
  return ((properties.Policies ?? []) as { PolicyDocument: PolicyDocument }[]).map(
    (policy) => policy.PolicyDocument,
  );
}

export function localIdentities(
  stack: StackDefinition,
  deployment: Deployment,
  options: { readonly managementAccountId: string; readonly memberRoles: MemberRoleScenario },
): LocalIdentities {
  const template = new TemplateEvaluator(stack.template, deployment);
  const principals: Record<string, PrincipalInput> = {};
  const functions: Record<string, CredentialsEnv> = {};
  const roleArns: Record<string, string> = {};
  for (const fn of Object.values(stack.functions)) {
    if (!fn.role) throw new Error(`serverless.yml: function ${fn.name} has no role of its own`);
    const properties = template.properties(fn.role);
    const roleName = String(properties.RoleName);
    const accessKeyId = `ASIALOCAL${fn.name.toUpperCase()}`;
    principals[accessKeyId] = {
      accountId: deployment.accountId,
      roleName,
      sessionName: `${stack.service}-${stack.stage}-${fn.name}`,
      policies: policiesOf(properties),
    };
    functions[fn.name] = credentials(accessKeyId);
    roleArns[fn.name] = `arn:aws:iam::${deployment.accountId}:role/${roleName}`;
  }
  const operatorKey = "ASIALOCALOPERATOR";
  principals[operatorKey] = {
    accountId: deployment.accountId,
    roleName: "operator",
    sessionName: "gd-onboard",
    policies: policiesOf(template.properties("OperatorPolicy")),
  };

  const memberRoles = [organizationAccountAccessRole(options.managementAccountId)];
  if (options.memberRoles === "documented") {
    // The member role trusts the function that enters member accounts: the accept function.
    const acceptRoleArn = roleArns.accept;
    if (!acceptRoleArn) throw new Error("serverless.yml: no accept function");
    const memberTemplate = parse(readFileSync(MEMBER_ROLE_TEMPLATE, "utf8")) as Template;
    const parameters = {
      AdministratorRoleArn: acceptRoleArn,
      RoleName: stack.params.memberRoleName ?? "GuardDutyOnboardingMember",
      ExternalId: stack.params.memberRoleExternalId ?? "",
      // The member role's regions are the stage's; with regions all, every region (its parameter's empty).
      Regions: stack.params.regions === ALL_REGIONS ? "" : (stack.params.regions ?? ""),
    };
    memberRoles.push((account) => {
      if (account.id === deployment.accountId) return undefined;
      const member = new TemplateEvaluator(memberTemplate, {
        ...deployment,
        accountId: account.id,
        parameters,
      });
      const properties = member.properties("MemberRole");
      return {
        name: String(properties.RoleName),
        trustPolicy: properties.AssumeRolePolicyDocument as PolicyDocument,
        policies: policiesOf(properties),
        maxSessionDurationSeconds: Number(properties.MaxSessionDuration ?? 3600),
      };
    });
  }
  return { principals, memberRoles, functions, operator: credentials(operatorKey), roleArns };
}

function credentials(accessKeyId: string): CredentialsEnv {
  return { AWS_ACCESS_KEY_ID: accessKeyId, AWS_SECRET_ACCESS_KEY: "local", AWS_SESSION_TOKEN: "local" };
}
