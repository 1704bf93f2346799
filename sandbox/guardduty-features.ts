/**
 * GuardDuty's protection plans ("features") of one detector, without HTTP: the names and their additional
 * configuration, the default-on rule of CreateDetector, the mutual exclusion of the two runtime monitoring
 * features, and what an update changes. Names and enums are botocore's model
 * (`data/guardduty/2017-11-28/service-2.json`: `DetectorFeature`, `OrgFeature`, `DetectorFeatureResult`,
 * `FeatureAdditionalConfiguration`, `FeatureStatus`).
 */
import { SandboxError } from "./http.ts";

/** Model `DetectorFeature` (the same values as `OrgFeature`): the plans a request may name. */
export const FEATURE_NAMES = [
  "S3_DATA_EVENTS",
  "EKS_AUDIT_LOGS",
  "EBS_MALWARE_PROTECTION",
  "RDS_LOGIN_EVENTS",
  "LAMBDA_NETWORK_LOGS",
  "EKS_RUNTIME_MONITORING",
  "RUNTIME_MONITORING",
] as const;
export type FeatureName = (typeof FEATURE_NAMES)[number];

/**
 * The foundational sources, which `DetectorFeatureResult` adds to the names above: GetDetector reports them,
 * always ENABLED (no request can name them, and GuardDuty cannot run without them).
 */
export const FOUNDATIONAL_FEATURES = ["CLOUD_TRAIL", "DNS_LOGS", "FLOW_LOGS"] as const;

/** Model `FeatureAdditionalConfiguration`. */
export const ADDITIONAL_NAMES = [
  "EKS_ADDON_MANAGEMENT",
  "ECS_FARGATE_AGENT_MANAGEMENT",
  "EC2_AGENT_MANAGEMENT",
] as const;
export type AdditionalName = (typeof ADDITIONAL_NAMES)[number];

/** Model `FeatureStatus`. */
export const FEATURE_STATUSES = ["ENABLED", "DISABLED"] as const;
export type FeatureStatus = (typeof FEATURE_STATUSES)[number];

/**
 * Which feature carries which additional configuration. The model's enum does not say; the GuardDuty User
 * Guide's API configuration pages do: EKS Runtime Monitoring manages the EKS add-on only
 * (`EKS_ADDON_MANAGEMENT`), Runtime Monitoring the agent for EKS, ECS on Fargate and EC2. A live GetDetector
 * shows the same (prowler-cloud/prowler#12564: `EKS_RUNTIME_MONITORING.AdditionalConfiguration =
 * [EKS_ADDON_MANAGEMENT]`). The other features have none.
 */
export const ADDITIONAL_CONFIGURATION: Readonly<Partial<Record<FeatureName, readonly AdditionalName[]>>> = {
  EKS_RUNTIME_MONITORING: ["EKS_ADDON_MANAGEMENT"],
  RUNTIME_MONITORING: ["EKS_ADDON_MANAGEMENT", "ECS_FARGATE_AGENT_MANAGEMENT", "EC2_AGENT_MANAGEMENT"],
};

/**
 * CreateDetector's documentation in the model: "When you don't specify any features, with an exception to
 * RUNTIME_MONITORING, all the optional features are enabled by default" and "When you specify some of the
 * features, any feature that is not specified in the API call gets enabled by default, with an exception to
 * RUNTIME_MONITORING." So every unnamed feature starts ENABLED — EKS_RUNTIME_MONITORING included, as the
 * text reads — except RUNTIME_MONITORING. The documentation is silent on additional configuration (automated
 * agent management): unnamed ones start DISABLED, GuardDuty managing no agent unless asked (unsourced).
 */
const OFF_UNLESS_NAMED: ReadonlySet<FeatureName> = new Set(["RUNTIME_MONITORING"]);

/** One feature of a request (`DetectorFeatureConfiguration`, `MemberFeaturesConfiguration`). */
export interface FeatureRequest {
  readonly name: FeatureName;
  /** Absent: the feature keeps its status (its default, at creation); only its additional configuration changes. */
  readonly status?: FeatureStatus;
  readonly additional?: readonly { readonly name: AdditionalName; readonly status?: FeatureStatus }[];
}

/** A feature as a detector holds it; `updatedAt` in epoch ms. */
export interface FeatureState {
  status: FeatureStatus;
  updatedAt: number;
  readonly additional: Partial<Record<AdditionalName, { status: FeatureStatus; updatedAt: number }>>;
}
export type DetectorFeatures = Record<FeatureName, FeatureState>;

/** What `GuardDutyState.featuresOf` answers: per feature its status and its additional configuration's. */
export type FeatureSummary = Record<
  FeatureName,
  { readonly status: FeatureStatus; readonly additional: Partial<Record<AdditionalName, FeatureStatus>> }
>;

/**
 * GuardDuty's answer to a request naming both runtime monitoring features. The model says only that it "will
 * cause an error"; this text is as quoted (second-hand, not a captured answer) in a code comment of
 * aws-samples/one-observability-demo's GuardDuty construct.
 */
export const RUNTIME_MONITORING_CONFLICT =
  "EKS_RUNTIME_MONITORING and RUNTIME_MONITORING cannot be provided in the same request";
/** GuardDuty's invalid-input text (see `GuardDutyText.invalidInput`), with what was wrong (unsourced detail). */
const INVALID_INPUT =
  "The request is rejected because an invalid or out-of-range value is specified as an input parameter.";

function invalid(detail: string): SandboxError {
  return new SandboxError("BadRequestException", 400, `${INVALID_INPUT} ${detail}`);
}

/**
 * The rules a feature list must keep, beyond the model's types: each feature once, additional configuration
 * only where the feature has it (each once), never both EKS_RUNTIME_MONITORING and RUNTIME_MONITORING.
 */
export function validateFeatures(requests: readonly FeatureRequest[]): void {
  const names = requests.map((request) => request.name);
  if (names.includes("EKS_RUNTIME_MONITORING") && names.includes("RUNTIME_MONITORING")) {
    throw new SandboxError("BadRequestException", 400, RUNTIME_MONITORING_CONFLICT);
  }
  for (const [i, request] of requests.entries()) {
    if (names.indexOf(request.name) !== i) throw invalid(`The feature ${request.name} is given twice.`);
    const allowed = ADDITIONAL_CONFIGURATION[request.name] ?? [];
    const additional = (request.additional ?? []).map((item) => item.name);
    for (const [j, name] of additional.entries()) {
      if (!allowed.includes(name)) {
        throw invalid(`The feature ${request.name} has no additional configuration ${name}.`);
      }
      if (additional.indexOf(name) !== j)
        throw invalid(`The additional configuration ${name} is given twice.`);
    }
  }
}

/** A new detector's features: the named ones as requested, the others by the default-on rule. */
export function initialFeatures(requests: readonly FeatureRequest[], at: number): DetectorFeatures {
  validateFeatures(requests);
  const features = {} as DetectorFeatures;
  for (const name of FEATURE_NAMES) {
    const additional: FeatureState["additional"] = {};
    for (const item of ADDITIONAL_CONFIGURATION[name] ?? [])
      additional[item] = { status: "DISABLED", updatedAt: at };
    features[name] = {
      status: OFF_UNLESS_NAMED.has(name) ? "DISABLED" : "ENABLED",
      updatedAt: at,
      additional,
    };
  }
  applyFeatures(features, requests, at);
  return features;
}

/** UpdateDetector / UpdateMemberDetectors: the named features, and their named additional configuration, only. */
export function applyFeatures(
  features: DetectorFeatures,
  requests: readonly FeatureRequest[],
  at: number,
): void {
  validateFeatures(requests);
  for (const request of requests) {
    const feature = features[request.name];
    if (request.status !== undefined) {
      feature.status = request.status;
      feature.updatedAt = at;
    }
    for (const item of request.additional ?? []) {
      const current = feature.additional[item.name];
      if (current !== undefined && item.status !== undefined) {
        current.status = item.status;
        current.updatedAt = at;
      }
    }
  }
}

/** The plain view: feature → status and additional configuration → status. */
export function summarize(features: DetectorFeatures): FeatureSummary {
  const summary = {} as Record<FeatureName, FeatureSummary[FeatureName]>;
  for (const name of FEATURE_NAMES) {
    const { status, additional } = features[name];
    const statuses: Partial<Record<AdditionalName, FeatureStatus>> = {};
    for (const [item, state] of Object.entries(additional)) statuses[item as AdditionalName] = state.status;
    summary[name] = { status, additional: statuses };
  }
  return summary;
}

/**
 * The deprecated `DataSources` of CreateDetector, UpdateDetector and UpdateMemberDetectors as the features
 * they stand for (GuardDuty User Guide, "Feature object API changes, March 2023": S3Logs → S3_DATA_EVENTS,
 * Kubernetes audit logs → EKS_AUDIT_LOGS, malware protection's EBS volumes → EBS_MALWARE_PROTECTION).
 */
export function dataSourceFeatures(dataSources: {
  readonly s3Logs?: boolean;
  readonly kubernetesAuditLogs?: boolean;
  readonly ebsVolumes?: boolean;
}): FeatureRequest[] {
  const status = (enable: boolean): FeatureStatus => (enable ? "ENABLED" : "DISABLED");
  const requests: FeatureRequest[] = [];
  if (dataSources.s3Logs !== undefined)
    requests.push({ name: "S3_DATA_EVENTS", status: status(dataSources.s3Logs) });
  if (dataSources.kubernetesAuditLogs !== undefined)
    requests.push({ name: "EKS_AUDIT_LOGS", status: status(dataSources.kubernetesAuditLogs) });
  if (dataSources.ebsVolumes !== undefined)
    requests.push({ name: "EBS_MALWARE_PROTECTION", status: status(dataSources.ebsVolumes) });
  return requests;
}

/** Requests that name a feature in both lists keep the `features` one (the current API wins). */
export function mergeRequests(
  fromDataSources: readonly FeatureRequest[],
  features: readonly FeatureRequest[],
): FeatureRequest[] {
  const named = new Set(features.map((request) => request.name));
  return [...fromDataSources.filter((request) => !named.has(request.name)), ...features];
}
