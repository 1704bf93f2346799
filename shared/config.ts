import { ConfigError } from "./errors.ts";
import { ACCOUNT_ID_PATTERN, REGION_PATTERN } from "./ids.ts";
import { sessionName } from "./member-session.ts";

export type MembershipMode = "invitation" | "organization";

/** Everything the onboard function needs to know about its stage, validated once at cold start. */
export interface Config {
  /** GuardDuty regions in which every new account must become a member. */
  readonly regions: readonly string[];
  /** `invitation`: CreateMembers + InviteMembers. `organization`: CreateMembers alone enables the member. */
  readonly mode: MembershipMode;
  readonly invitationMessage?: string;
  readonly disableEmailNotification: boolean;
  /** Deliveries of one request (first try + retries) before it is dead-lettered as `retries-exhausted`. */
  readonly maxAttempts: number;
  /** First retry delay; it doubles per attempt, with jitter, capped at SQS's 900 s `DelaySeconds`. */
  readonly retryBaseDelaySeconds: number;
  readonly retryQueueUrl: string;
  readonly deadLetterQueueUrl: string;
  /** The GuardDuty administrator account itself is never invited (GuardDuty: "cannot invite itself"). */
  readonly administratorAccountId?: string;
  /** Timeout of one AWS HTTP request; far below the function timeout, so retries still fit. */
  readonly sdkRequestTimeoutMs: number;
  /**
   * Invitation mode only: enter each invited account through this role and accept the invitation, so
   * the member is actually monitored (Enabled). Undefined when the step is off.
   */
  readonly acceptance?: {
    readonly roleName: string;
    readonly externalId?: string;
    /** Stamp member sessions with a SourceIdentity (the role's trust must allow sts:SetSourceIdentity). */
    readonly sourceIdentity: boolean;
    /** RoleSessionName (and SourceIdentity) of member sessions: the function's name. */
    readonly sessionName: string;
  };
}

type Env = Readonly<Record<string, string | undefined>>;

/**
 * Reads and validates the stage configuration from the environment. Fails fast with a
 * {@link ConfigError} naming the variable, so a bad deployment breaks at the first invocation
 * instead of half-onboarding accounts.
 */
export function loadConfig(env: Env = process.env): Config {
  const regions = list(env, "GUARDDUTY_REGIONS") ?? (env.AWS_REGION ? [env.AWS_REGION] : undefined);
  if (!regions?.length) throw new ConfigError("GUARDDUTY_REGIONS", "set a comma-separated list of regions");
  for (const region of regions) {
    if (!REGION_PATTERN.test(region))
      throw new ConfigError("GUARDDUTY_REGIONS", `"${region}" is not a region`);
  }
  const mode = env.MEMBERSHIP_MODE?.trim() || "invitation";
  if (mode !== "invitation" && mode !== "organization") {
    throw new ConfigError("MEMBERSHIP_MODE", `"${mode}" must be "invitation" or "organization"`);
  }
  const administratorAccountId = env.ADMINISTRATOR_ACCOUNT_ID?.trim() || undefined;
  if (administratorAccountId && !ACCOUNT_ID_PATTERN.test(administratorAccountId)) {
    throw new ConfigError("ADMINISTRATOR_ACCOUNT_ID", "must be 12 digits");
  }
  return {
    regions: [...new Set(regions)],
    mode,
    invitationMessage: env.INVITATION_MESSAGE?.trim() || undefined,
    disableEmailNotification: bool(env, "DISABLE_EMAIL_NOTIFICATION", true),
    maxAttempts: int(env, "MAX_ATTEMPTS", 8, 1, 100),
    retryBaseDelaySeconds: int(env, "RETRY_BASE_DELAY_SECONDS", 30, 0, 900),
    retryQueueUrl: url(env, "RETRY_QUEUE_URL"),
    deadLetterQueueUrl: url(env, "DEAD_LETTER_QUEUE_URL"),
    administratorAccountId,
    sdkRequestTimeoutMs: int(env, "SDK_REQUEST_TIMEOUT_MS", 10_000, 100, 60_000),
    acceptance: acceptance(env, mode, administratorAccountId),
  };
}

/** The role member-role/template.yml creates in every member account (serverless.yml `memberRoleName`). */
export const DEFAULT_MEMBER_ROLE_NAME = "GuardDutyOnboardingMember";

/** IAM role names: 1–64 of `[\w+=,.@-]` (IAM API model). */
const ROLE_NAME = /^[\w+=,.@-]{1,64}$/;

function acceptance(
  env: Env,
  mode: MembershipMode,
  administratorAccountId: string | undefined,
): Config["acceptance"] {
  // Organization mode needs no member side: CreateMembers alone enables the member.
  if (mode !== "invitation" || !bool(env, "ACCEPT_INVITATIONS", true)) return undefined;
  const roleName = env.MEMBER_ROLE_NAME?.trim() || DEFAULT_MEMBER_ROLE_NAME;
  if (!ROLE_NAME.test(roleName))
    throw new ConfigError("MEMBER_ROLE_NAME", `"${roleName}" is not an IAM role name`);
  if (!administratorAccountId) {
    throw new ConfigError(
      "ADMINISTRATOR_ACCOUNT_ID",
      "is required to accept invitations (or set ACCEPT_INVITATIONS=false)",
    );
  }
  return {
    roleName,
    externalId: env.MEMBER_ROLE_EXTERNAL_ID?.trim() || undefined,
    sourceIdentity: bool(env, "MEMBER_SOURCE_IDENTITY", true),
    sessionName: sessionName(env.AWS_LAMBDA_FUNCTION_NAME),
  };
}

function list(env: Env, name: string): string[] | undefined {
  const items = env[name]
    ?.split(",")
    .map((item) => item.trim())
    .filter(Boolean);
  return items?.length ? items : undefined;
}

function bool(env: Env, name: string, fallback: boolean): boolean {
  const value = env[name]?.trim().toLowerCase();
  if (!value) return fallback;
  if (value === "true") return true;
  if (value === "false") return false;
  throw new ConfigError(name, `"${env[name]}" must be "true" or "false"`);
}

function int(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(name, `"${raw}" must be a whole number from ${min} to ${max}`);
  }
  return value;
}

function url(env: Env, name: string): string {
  const value = env[name]?.trim();
  if (!value) throw new ConfigError(name, "is required (the queue URL)");
  if (!URL.canParse(value)) throw new ConfigError(name, `"${value}" is not a URL`);
  return value;
}
