/**
 * The session the onboard function opens in a member account. Whatever the member role allows (it may be
 * an administrator role such as OrganizationAccountAccessRole), the session is narrowed by a session
 * policy to the member-side calls of `acceptance.ts`, in the stage's regions: STS grants the
 * intersection of the role's policies and this one (IAM User Guide, "Session policies"). The session
 * carries a recognisable name and, where the role's trust allows it, a SourceIdentity, so the member's
 * CloudTrail shows who acted.
 */

/** The member-side actions, each without a resource type (Service Authorization Reference): `Resource: "*"`. */
export const MEMBER_ACTIONS = [
  "guardduty:ListDetectors",
  "guardduty:CreateDetector",
  "guardduty:ListInvitations",
  "guardduty:AcceptAdministratorInvitation",
  "guardduty:GetAdministratorAccount",
] as const;

/**
 * UpdateDetector brings a detector that already existed to the protection profile; it has a resource
 * type (`detector`), so it is granted on detectors only.
 */
export const MEMBER_DETECTOR_ACTIONS = ["guardduty:UpdateDetector"] as const;
const DETECTORS = "arn:*:guardduty:*:*:detector/*";

/** CreateDetector creates GuardDuty's service-linked roles on first use. */
export const SERVICE_LINKED_ROLE_SERVICES = [
  "guardduty.amazonaws.com",
  "malware-protection.guardduty.amazonaws.com",
] as const;

/** Their ARNs, in any member account (the session only narrows: the role's policy names the account). */
const SERVICE_LINKED_ROLES = [
  "arn:*:iam::*:role/aws-service-role/guardduty.amazonaws.com/AWSServiceRoleForAmazonGuardDuty",
  "arn:*:iam::*:role/aws-service-role/malware-protection.guardduty.amazonaws.com/AWSServiceRoleForAmazonGuardDutyMalwareProtection",
];

/** Model `roleSessionNameType` / `sourceIdentityType`: 2–64 of `[\w+=,.@-]`. */
const SESSION_NAME = /[^\w+=,.@-]/g;

/** The session name (and SourceIdentity) for a function: its name, as Lambda gives it, within STS's limits. */
export function sessionName(functionName: string | undefined): string {
  const name = (functionName || "guardduty-onboarding").replace(SESSION_NAME, "-").slice(0, 64);
  return name.length >= 2 ? name : "guardduty-onboarding";
}

/** The session policy: only the member-side actions, only in `regions`. Well under STS's 2,048 characters. */
export function memberSessionPolicy(regions: readonly string[]): string {
  return JSON.stringify({
    Version: "2012-10-17",
    Statement: [
      {
        Effect: "Allow",
        Action: MEMBER_ACTIONS,
        Resource: "*",
        Condition: { StringEquals: { "aws:RequestedRegion": regions } },
      },
      {
        Effect: "Allow",
        Action: MEMBER_DETECTOR_ACTIONS,
        Resource: DETECTORS,
        Condition: { StringEquals: { "aws:RequestedRegion": regions } },
      },
      {
        Effect: "Allow",
        Action: "iam:CreateServiceLinkedRole",
        Resource: SERVICE_LINKED_ROLES,
        Condition: { StringEquals: { "iam:AWSServiceName": SERVICE_LINKED_ROLE_SERVICES } },
      },
    ],
  });
}
