import type {
  DetectorFeatureConfiguration,
  DetectorFeatureConfigurationResult,
  MemberFeaturesConfiguration,
  MemberFeaturesConfigurationResult,
} from "@aws-sdk/client-guardduty";
import { ConfigError } from "./errors.ts";
import { REGION_PATTERN } from "./ids.ts";

/**
 * The protection profile: which GuardDuty protection plans (features) every member must have, per
 * region. The stage parameter `protectionPlans` (env `PROTECTION_PLANS`) declares it as
 * `{"default": {FEATURE: STATUS | {"status": STATUS, ADDITIONAL: STATUS…}}, "regions"?: {REGION: {…}}}`
 * with the API's names (botocore `guardduty/2017-11-28`: `DetectorFeature`, `FeatureAdditionalConfiguration`,
 * `FeatureStatus`); a region's entry replaces the default there. Only `Features` are used, never the
 * deprecated `DataSources`.
 */

export type FeatureStatus = "ENABLED" | "DISABLED";

/** The features a detector takes (`DetectorFeature` = `OrgFeature`), each with its additional configuration. */
export const FEATURES = {
  S3_DATA_EVENTS: [],
  EKS_AUDIT_LOGS: [],
  EBS_MALWARE_PROTECTION: [],
  RDS_LOGIN_EVENTS: [],
  LAMBDA_NETWORK_LOGS: [],
  EKS_RUNTIME_MONITORING: ["EKS_ADDON_MANAGEMENT"],
  RUNTIME_MONITORING: ["EKS_ADDON_MANAGEMENT", "ECS_FARGATE_AGENT_MANAGEMENT", "EC2_AGENT_MANAGEMENT"],
} as const satisfies Record<string, readonly string[]>;
export type Feature = keyof typeof FEATURES;

/** One feature's desired state: its status and, for Runtime Monitoring, its agent management options. */
export interface FeatureSetting {
  readonly status: FeatureStatus;
  readonly additional: Readonly<Record<string, FeatureStatus>>;
}

/** The plans one (account, region) must have: every feature the profile names. */
export type Plans = Readonly<Partial<Record<Feature, FeatureSetting>>>;

export interface Profile {
  readonly default: Plans;
  readonly regions: Readonly<Record<string, Plans>>;
}

/**
 * The default: every plan that is billed by what it finds or by the logs it reads (S3 data events, EKS
 * audit logs, EBS malware scans, RDS login events, Lambda network logs) on; Runtime Monitoring, billed per
 * vCPU of every monitored workload and needing its agent, off, and said so explicitly, so that no member
 * pays for it by surprise. README, "Protection".
 */
export const DEFAULT_PROTECTION_PLANS = {
  default: {
    S3_DATA_EVENTS: "ENABLED",
    EKS_AUDIT_LOGS: "ENABLED",
    EBS_MALWARE_PROTECTION: "ENABLED",
    RDS_LOGIN_EVENTS: "ENABLED",
    LAMBDA_NETWORK_LOGS: "ENABLED",
    RUNTIME_MONITORING: {
      status: "DISABLED",
      EKS_ADDON_MANAGEMENT: "DISABLED",
      ECS_FARGATE_AGENT_MANAGEMENT: "DISABLED",
      EC2_AGENT_MANAGEMENT: "DISABLED",
    },
  },
} as const;

const STATUSES: readonly string[] = ["ENABLED", "DISABLED"];
const VARIABLE = "PROTECTION_PLANS";

/** Reads and validates a profile; a {@link ConfigError} names the bad entry. */
export function parseProfile(json: string, variable = VARIABLE): Profile {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (error) {
    throw new ConfigError(variable, `is not JSON (${(error as Error).message})`);
  }
  if (!isObject(raw)) throw new ConfigError(variable, 'must be an object {"default": {…}, "regions"?: {…}}');
  for (const key of Object.keys(raw)) {
    if (key !== "default" && key !== "regions")
      throw new ConfigError(variable, `unknown key "${key}" (only "default" and "regions")`);
  }
  if (!isObject(raw.default)) throw new ConfigError(variable, '"default" must be an object of features');
  const regions: Record<string, Plans> = {};
  if (raw.regions !== undefined) {
    if (!isObject(raw.regions)) throw new ConfigError(variable, '"regions" must be an object');
    for (const [region, plans] of Object.entries(raw.regions)) {
      if (!REGION_PATTERN.test(region))
        throw new ConfigError(variable, `"regions.${region}" is not a region`);
      regions[region] = parsePlans(plans, `regions.${region}`, variable);
    }
  }
  return { default: parsePlans(raw.default, "default", variable), regions };
}

function parsePlans(raw: unknown, path: string, variable: string): Plans {
  if (!isObject(raw)) throw new ConfigError(variable, `"${path}" must be an object of features`);
  const plans: Partial<Record<Feature, FeatureSetting>> = {};
  for (const [name, value] of Object.entries(raw)) {
    const where = `${path}.${name}`;
    if (!(name in FEATURES))
      throw new ConfigError(
        variable,
        `"${where}": unknown feature (one of ${Object.keys(FEATURES).join(", ")})`,
      );
    const feature = name as Feature;
    const options: readonly string[] = FEATURES[feature];
    if (typeof value === "string") {
      plans[feature] = { status: status(value, where, variable), additional: {} };
      continue;
    }
    if (!isObject(value))
      throw new ConfigError(variable, `"${where}" must be "ENABLED", "DISABLED" or {"status": …}`);
    const additional: Record<string, FeatureStatus> = {};
    for (const [key, option] of Object.entries(value)) {
      if (key === "status") continue;
      if (!options.includes(key))
        throw new ConfigError(
          variable,
          options.length === 0
            ? `"${where}.${key}": ${feature} has no additional configuration`
            : `"${where}.${key}": unknown additional configuration (one of ${options.join(", ")})`,
        );
      additional[key] = status(option, `${where}.${key}`, variable);
    }
    plans[feature] = { status: status(value.status, `${where}.status`, variable), additional };
  }
  // The API rejects the pair (DetectorFeatureConfiguration's documentation); EKS Runtime Monitoring is deprecated.
  if (plans.EKS_RUNTIME_MONITORING && plans.RUNTIME_MONITORING)
    throw new ConfigError(
      variable,
      `"${path}": EKS_RUNTIME_MONITORING and RUNTIME_MONITORING cannot be given together (GuardDuty rejects the pair; use RUNTIME_MONITORING with EKS_ADDON_MANAGEMENT)`,
    );
  return plans;
}

function status(value: unknown, where: string, variable: string): FeatureStatus {
  if (typeof value !== "string" || !STATUSES.includes(value))
    throw new ConfigError(variable, `"${where}" must be "ENABLED" or "DISABLED"`);
  return value as FeatureStatus;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The plans of a region: its override, else the default. */
export function plansFor(profile: Profile, region: string): Plans {
  return profile.regions[region] ?? profile.default;
}

function entries(plans: Plans): [Feature, FeatureSetting][] {
  return Object.entries(plans) as [Feature, FeatureSetting][];
}

/** `Features` for CreateDetector / UpdateDetector: every plan named, unwanted ones explicitly `DISABLED`. */
export function detectorFeatures(plans: Plans): DetectorFeatureConfiguration[] {
  return entries(plans).map(([name, { status, additional }]) => ({
    Name: name,
    Status: status,
    AdditionalConfiguration: additionalOf(additional),
  }));
}

/** `Features` for UpdateMemberDetectors (the administrator's call; same names, `OrgFeature`). */
export function memberFeatures(plans: Plans): MemberFeaturesConfiguration[] {
  return entries(plans).map(([name, { status, additional }]) => ({
    Name: name,
    Status: status,
    AdditionalConfiguration: additionalOf(additional),
  }));
}

function additionalOf(additional: Readonly<Record<string, FeatureStatus>>) {
  const list = Object.entries(additional).map(([Name, Status]) => ({
    Name: Name as "EKS_ADDON_MANAGEMENT",
    Status,
  }));
  return list.length > 0 ? list : undefined;
}

/** What a detector's features read back (GetMemberDetectors, GetDetector), as plain data. */
export type ActualPlans = Readonly<Record<string, FeatureSetting>>;

/** Reads `Features` of GetMemberDetectors' or GetDetector's answer. */
export function actualPlans(
  features: readonly (MemberFeaturesConfigurationResult | DetectorFeatureConfigurationResult)[] = [],
): ActualPlans {
  const plans: Record<string, FeatureSetting> = {};
  for (const feature of features) {
    if (!feature.Name) continue;
    const additional: Record<string, FeatureStatus> = {};
    for (const option of feature.AdditionalConfiguration ?? [])
      if (option.Name) additional[option.Name] = option.Status === "ENABLED" ? "ENABLED" : "DISABLED";
    plans[feature.Name] = { status: feature.Status === "ENABLED" ? "ENABLED" : "DISABLED", additional };
  }
  return plans;
}

/**
 * How the actual plans differ from the wanted ones, one phrase per difference ("S3_DATA_EVENTS is
 * DISABLED, wanted ENABLED"); empty when they match. A feature the answer leaves out counts as
 * `DISABLED` (a region that does not offer it), so a wanted `ENABLED` there is a difference.
 */
export function differences(wanted: Plans, actual: ActualPlans): string[] {
  const found: string[] = [];
  for (const [name, { status, additional }] of entries(wanted)) {
    const is = actual[name];
    if ((is?.status ?? "DISABLED") !== status)
      found.push(`${name} is ${is?.status ?? "DISABLED"}, wanted ${status}`);
    for (const [option, optionStatus] of Object.entries(additional)) {
      const current = is?.additional[option] ?? "DISABLED";
      if (current !== optionStatus) found.push(`${name}.${option} is ${current}, wanted ${optionStatus}`);
    }
  }
  return found;
}

/** The profile as the `protectionPlans` JSON shape (for the summary, `gd-onboard status`). */
export function plansAsJson(
  plans: ActualPlans | Plans,
): Record<string, FeatureStatus | Record<string, FeatureStatus>> {
  const json: Record<string, FeatureStatus | Record<string, FeatureStatus>> = {};
  for (const [name, setting] of Object.entries(plans) as [string, FeatureSetting][]) {
    json[name] =
      Object.keys(setting.additional).length === 0
        ? setting.status
        : { status: setting.status, ...setting.additional };
  }
  return json;
}

export const DEFAULT_PROFILE: Profile = parseProfile(JSON.stringify(DEFAULT_PROTECTION_PLANS));

/** The profile a function's environment names (`PROTECTION_PLANS`), else the default. */
export function profileOf(plans: string | undefined): Profile {
  return plans?.trim() ? parseProfile(plans) : DEFAULT_PROFILE;
}
