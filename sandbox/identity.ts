/**
 * Identities as AWS has them: access keys that belong to a principal (an IAM user, or a session of an
 * assumed role), and the IAM roles of each account with their trust policies. A request signed with a
 * key the sandbox never issued is rejected as AWS rejects it; a session acts with its role's policies,
 * narrowed by its session policy.
 */
import { ADMINISTRATOR_ACCESS, type PolicyDocument, type Principal } from "./iam.ts";

/** An IAM role in one account. */
export interface Role {
  readonly accountId: string;
  readonly name: string;
  readonly arn: string;
  /** Who may assume it (AssumeRolePolicyDocument). */
  readonly trustPolicy: PolicyDocument;
  /** Its permissions (inline and attached policies). */
  readonly policies: readonly PolicyDocument[];
  /** `MaxSessionDuration`, 3600–43200 s (IAM default 3600). */
  readonly maxSessionDurationSeconds: number;
}

export interface RoleInput {
  readonly name: string;
  readonly trustPolicy: PolicyDocument;
  readonly policies: readonly PolicyDocument[];
  readonly maxSessionDurationSeconds?: number;
}

/** A principal to seed: a session of a role (`roleName`) or an IAM user (`userName`) of an account. */
export interface PrincipalInput {
  readonly accountId: string;
  readonly roleName?: string;
  /** The session's name (assumed roles); default `session`. */
  readonly sessionName?: string;
  readonly userName?: string;
  readonly policies: readonly PolicyDocument[];
}

/** The access key the sandbox issues to the administrator account's break-glass user (AdministratorAccess). */
export const ADMINISTRATOR_ACCESS_KEY_ID = "AKIDADMINISTRATOR";

export function roleArn(accountId: string, name: string, partition = "aws"): string {
  return `arn:${partition}:iam::${accountId}:role/${name}`;
}

export class Identities {
  readonly #keys = new Map<string, Principal>();
  readonly #roles = new Map<string, Role>();
  /** Account → its organization, for `aws:PrincipalOrgID` / `aws:ResourceOrgID`. */
  readonly #organizationOf: (accountId: string) => string | undefined;

  constructor(organizationOf: (accountId: string) => string | undefined) {
    this.#organizationOf = organizationOf;
  }

  /** The principal an access key belongs to; undefined for a key the sandbox never issued. */
  principal(accessKeyId: string | undefined): Principal | undefined {
    return accessKeyId === undefined ? undefined : this.#keys.get(accessKeyId);
  }

  /** Issues `accessKeyId` to a principal. */
  register(accessKeyId: string, input: PrincipalInput): Principal {
    const { accountId } = input;
    const principal: Principal = input.roleName
      ? {
          accountId,
          arn: `arn:aws:sts::${accountId}:assumed-role/${input.roleName}/${input.sessionName ?? "session"}`,
          principalArn: roleArn(accountId, input.roleName),
          userId: `AROA${accountId}:${input.sessionName ?? "session"}`,
          policies: input.policies,
          organizationId: this.#organizationOf(accountId),
        }
      : {
          accountId,
          arn: `arn:aws:iam::${accountId}:user/${input.userName ?? "sandbox"}`,
          principalArn: `arn:aws:iam::${accountId}:user/${input.userName ?? "sandbox"}`,
          userId: `AIDA${accountId}`,
          policies: input.policies,
          organizationId: this.#organizationOf(accountId),
        };
    this.#keys.set(accessKeyId, principal);
    return principal;
  }

  /** Issues temporary credentials for a session (AssumeRole). */
  registerSession(accessKeyId: string, principal: Principal): void {
    this.#keys.set(accessKeyId, principal);
  }

  /** A user with AdministratorAccess in `accountId` (tests, and people exploring the sandbox). */
  registerAdministrator(accessKeyId: string, accountId: string): Principal {
    return this.register(accessKeyId, {
      accountId,
      userName: "administrator",
      policies: [ADMINISTRATOR_ACCESS],
    });
  }

  addRole(accountId: string, input: RoleInput): Role {
    const role: Role = {
      accountId,
      name: input.name,
      arn: roleArn(accountId, input.name),
      trustPolicy: input.trustPolicy,
      policies: input.policies,
      maxSessionDurationSeconds: input.maxSessionDurationSeconds ?? 3600,
    };
    this.#roles.set(role.arn, role);
    return role;
  }

  removeRole(accountId: string, name: string): void {
    this.#roles.delete(roleArn(accountId, name));
  }

  /** A role by ARN (any partition spelling), or undefined when the account has no such role. */
  role(arn: string): Role | undefined {
    return this.#roles.get(arn.replace(/^arn:aws[a-z-]*:/, "arn:aws:"));
  }

  organizationOf(accountId: string): string | undefined {
    return this.#organizationOf(accountId);
  }
}

/**
 * OrganizationAccountAccessRole as Organizations creates it in every account it creates: full
 * administrator access, trusting only the management account (Organizations User Guide).
 */
export function organizationAccountAccessRole(managementAccountId: string) {
  return (account: { readonly id: string; readonly joinedMethod: string }): RoleInput | undefined =>
    account.joinedMethod !== "CREATED" || account.id === managementAccountId
      ? undefined
      : {
          name: "OrganizationAccountAccessRole",
          trustPolicy: {
            Version: "2012-10-17",
            Statement: [
              {
                Effect: "Allow",
                Principal: { AWS: `arn:aws:iam::${managementAccountId}:root` },
                Action: "sts:AssumeRole",
              },
            ],
          },
          policies: [ADMINISTRATOR_ACCESS],
        };
}
