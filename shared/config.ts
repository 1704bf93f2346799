import { ConfigError } from "./errors.ts";
import { ACCOUNT_ID_PATTERN, REGION_PATTERN } from "./ids.ts";
import { ALL_REGIONS, partitionOf, type RegionsSetting } from "./managed-regions.ts";
import { sessionName } from "./member-session.ts";
import { type Profile, profileOf } from "./protection.ts";

export type MembershipMode = "invitation" | "organization";
type Env = Readonly<Record<string, string | undefined>>;

/**
 * The stage configuration each function needs, read from its environment (serverless.yml
 * `provider.environment`) and validated once, at cold start: a {@link ConfigError} names the bad
 * variable, so a bad deployment breaks at the first invocation instead of half-onboarding accounts.
 */

/** What every function of the stage shares. */
export interface StageConfig {
  /** GuardDuty regions in which every account must become a member, or `all` (discovered). */
  readonly regions: RegionsSetting;
  /** The function's partition (from AWS_REGION): which GuardDuty regions `all` may discover. */
  readonly partition: string;
  /** The GuardDuty administrator account (the stack's own), never its own member. */
  readonly administratorAccountId?: string;
  /** Timeout of one AWS HTTP request; far below the function timeout, so retries still fit. */
  readonly sdkRequestTimeoutMs: number;
  /** The protection plans every member must have (`protectionPlans`, shared/protection.ts). */
  readonly protection: Profile;
}

/** What routing needs: attempts, backoff, the dead-letter queue. */
export interface RetryConfig {
  /** Deliveries of one request (first try + retries) before it is dead-lettered as `retries-exhausted`. */
  readonly maxAttempts: number;
  /** First retry delay; it doubles per attempt, with jitter, capped at SQS's 900 s `DelaySeconds`. */
  readonly retryBaseDelaySeconds: number;
  readonly deadLetterQueueUrl: string;
  /** Where confirmed dead letters' (account, region) are recorded for the reconcile (`dead-letter-index.ts`). */
  readonly deadLetterIndexTable?: string;
}

/** The onboard function: the administrator side. */
export interface Config extends StageConfig, RetryConfig {
  /** `invitation`: CreateMembers + InviteMembers. `organization`: CreateMembers alone enables the member. */
  readonly mode: MembershipMode;
  readonly invitationMessage?: string;
  readonly disableEmailNotification: boolean;
  readonly retryQueueUrl: string;
  /**
   * Invitation mode only: where invited members go to be accepted (the accept function's queue).
   * Undefined when the member side is off.
   */
  readonly acceptQueueUrl?: string;
  /** The account directory shared by the function's containers (a DynamoDB table); none: each its own. */
  readonly directoryTable?: string;
  /** Departed and closed accounts' members are disassociated and deleted (`offboardDepartedAccounts`). */
  readonly offboardDepartedAccounts: boolean;
}

/** The accept function: the member side. */
export interface AcceptConfig extends StageConfig, RetryConfig {
  readonly administratorAccountId: string;
  /** Its own queue: where its retries go, delayed. */
  readonly acceptQueueUrl: string;
  /** The onboard function's RetryQueue: accepted members go back there to have their plans verified. */
  readonly retryQueueUrl: string;
  /** The role every member account lets the function assume (member-role/template.yml). */
  readonly roleName: string;
  readonly externalId?: string;
  /** Stamp member sessions with a SourceIdentity (the role's trust must allow sts:SetSourceIdentity). */
  readonly sourceIdentity: boolean;
  /** RoleSessionName (and SourceIdentity) of member sessions: the function's name. */
  readonly sessionName: string;
}

/** The role member-role/template.yml creates in every member account (serverless.yml `memberRoleName`). */
export const DEFAULT_MEMBER_ROLE_NAME = "GuardDutyOnboardingMember";

export function loadStageConfig(env: Env = process.env): StageConfig {
  const regions = regionsSetting(env);
  const administratorAccountId = env.ADMINISTRATOR_ACCOUNT_ID?.trim() || undefined;
  if (administratorAccountId && !ACCOUNT_ID_PATTERN.test(administratorAccountId)) {
    throw new ConfigError("ADMINISTRATOR_ACCOUNT_ID", "must be 12 digits");
  }
  const protection = profileOf(env.PROTECTION_PLANS);
  // With `all`, a region's own profile waits until GuardDuty is enabled there (profileOf checked its name).
  for (const region of Object.keys(protection.regions)) {
    if (regions !== ALL_REGIONS && !regions.includes(region))
      throw new ConfigError("PROTECTION_PLANS", `"regions.${region}" is not one of GUARDDUTY_REGIONS`);
  }
  return {
    regions,
    partition: partitionOf(env.AWS_REGION ?? ""),
    administratorAccountId,
    sdkRequestTimeoutMs: int(env, "SDK_REQUEST_TIMEOUT_MS", 10_000, 100, 60_000),
    protection,
  };
}

function loadRetryConfig(env: Env): RetryConfig {
  return {
    maxAttempts: int(env, "MAX_ATTEMPTS", 8, 1, 100),
    retryBaseDelaySeconds: int(env, "RETRY_BASE_DELAY_SECONDS", 30, 0, 900),
    deadLetterQueueUrl: url(env, "DEAD_LETTER_QUEUE_URL"),
    deadLetterIndexTable: env.DEAD_LETTER_INDEX_TABLE?.trim() || undefined,
  };
}

/**
 * How members join: the mode, and whether the member side accepts invitations. Organization mode
 * needs no member side: CreateMembers alone enables the member.
 */
export function loadMembership(env: Env = process.env): {
  readonly mode: MembershipMode;
  readonly acceptInvitations: boolean;
} {
  const mode = env.MEMBERSHIP_MODE?.trim() || "invitation";
  if (mode !== "invitation" && mode !== "organization") {
    throw new ConfigError("MEMBERSHIP_MODE", `"${mode}" must be "invitation" or "organization"`);
  }
  return { mode, acceptInvitations: mode === "invitation" && bool(env, "ACCEPT_INVITATIONS", true) };
}

/** The onboard function's configuration. */
export function loadConfig(env: Env = process.env): Config {
  const stage = loadStageConfig(env);
  const { mode, acceptInvitations: accepts } = loadMembership(env);
  return {
    ...stage,
    ...loadRetryConfig(env),
    mode,
    invitationMessage: env.INVITATION_MESSAGE?.trim() || undefined,
    disableEmailNotification: bool(env, "DISABLE_EMAIL_NOTIFICATION", true),
    retryQueueUrl: url(env, "RETRY_QUEUE_URL"),
    acceptQueueUrl: accepts ? url(env, "ACCEPT_QUEUE_URL") : undefined,
    directoryTable: env.ACCOUNT_DIRECTORY_TABLE?.trim() || undefined,
    offboardDepartedAccounts: offboardDepartedAccounts(env),
  };
}

/** Departed and closed accounts' members are offboarded (stage parameter `offboardDepartedAccounts`). */
export function offboardDepartedAccounts(env: Env = process.env): boolean {
  return bool(env, "OFFBOARD_DEPARTED_ACCOUNTS", true);
}

/** IAM role names: 1–64 of `[\w+=,.@-]` (IAM API model). */
const ROLE_NAME = /^[\w+=,.@-]{1,64}$/;

/** The accept function's configuration. */
export function loadAcceptConfig(env: Env = process.env): AcceptConfig {
  const stage = loadStageConfig(env);
  if (!stage.administratorAccountId) {
    throw new ConfigError(
      "ADMINISTRATOR_ACCOUNT_ID",
      "is required: members accept this administrator's invitation",
    );
  }
  const roleName = env.MEMBER_ROLE_NAME?.trim() || DEFAULT_MEMBER_ROLE_NAME;
  if (!ROLE_NAME.test(roleName))
    throw new ConfigError("MEMBER_ROLE_NAME", `"${roleName}" is not an IAM role name`);
  return {
    ...stage,
    ...loadRetryConfig(env),
    administratorAccountId: stage.administratorAccountId,
    acceptQueueUrl: url(env, "ACCEPT_QUEUE_URL"),
    retryQueueUrl: url(env, "RETRY_QUEUE_URL"),
    roleName,
    externalId: env.MEMBER_ROLE_EXTERNAL_ID?.trim() || undefined,
    sourceIdentity: bool(env, "MEMBER_SOURCE_IDENTITY", true),
    sessionName: sessionName(env.AWS_LAMBDA_FUNCTION_NAME),
  };
}

/** `all`, or a comma-separated list of region names (default: the function's own region). */
function regionsSetting(env: Env): RegionsSetting {
  if (env.GUARDDUTY_REGIONS?.trim().toLowerCase() === ALL_REGIONS) return ALL_REGIONS;
  const regions = list(env, "GUARDDUTY_REGIONS") ?? (env.AWS_REGION ? [env.AWS_REGION] : undefined);
  if (!regions?.length)
    throw new ConfigError("GUARDDUTY_REGIONS", `set "${ALL_REGIONS}" or a comma-separated list of regions`);
  for (const region of regions) {
    if (!REGION_PATTERN.test(region))
      throw new ConfigError("GUARDDUTY_REGIONS", `"${region}" is not a region (nor "${ALL_REGIONS}")`);
  }
  return [...new Set(regions)];
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

export function url(env: Env, name: string): string {
  const value = env[name]?.trim();
  if (!value) throw new ConfigError(name, "is required (the queue URL)");
  if (!URL.canParse(value)) throw new ConfigError(name, `"${value}" is not a URL`);
  return value;
}
