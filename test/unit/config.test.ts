import { describe, expect, it } from "vitest";
import { loadAcceptConfig, loadConfig } from "#shared/config";
import { ConfigError } from "#shared/errors";

const base = {
  RETRY_QUEUE_URL: "https://sqs.us-east-1.amazonaws.com/111111111111/retry",
  DEAD_LETTER_QUEUE_URL: "https://sqs.us-east-1.amazonaws.com/111111111111/dlq",
  AWS_REGION: "us-east-1",
  ADMINISTRATOR_ACCOUNT_ID: "111111111111",
};

const ACCEPT_QUEUE = "https://sqs.us-east-1.amazonaws.com/111111111111/accept";

describe("loadConfig", () => {
  it("defaults to invitation mode in the function's own region, e-mail notification off", () => {
    const config = loadConfig({ ...base, ACCEPT_QUEUE_URL: ACCEPT_QUEUE });

    expect(config).toMatchObject({
      regions: ["us-east-1"],
      mode: "invitation",
      disableEmailNotification: true,
      maxAttempts: 8,
      retryBaseDelaySeconds: 30,
    });
  });

  it("takes regions all (discovered at run time) and still validates any other value", () => {
    const all = loadConfig({ ...base, ACCEPT_QUEUE_URL: ACCEPT_QUEUE, GUARDDUTY_REGIONS: " all " });
    const china = loadConfig({ ...base, ACCEPT_INVITATIONS: "false", AWS_REGION: "cn-north-1" });

    expect(all).toMatchObject({ regions: "all", partition: "aws" });
    expect(china).toMatchObject({ regions: ["cn-north-1"], partition: "aws-cn" });
    expect(() => loadConfig({ ...base, GUARDDUTY_REGIONS: "all,us-east-1" })).toThrow(
      new ConfigError("GUARDDUTY_REGIONS", '"all" is not a region (nor "all")'),
    );
    expect(() => loadConfig({ ...base, GUARDDUTY_REGIONS: "everywhere" })).toThrow(ConfigError);
  });

  it("lets a profile name its own regions under regions all", () => {
    const plans = JSON.stringify({ default: {}, regions: { "ap-south-1": {} } });
    const env = { ...base, ACCEPT_INVITATIONS: "false", PROTECTION_PLANS: plans };

    expect(loadConfig({ ...env, GUARDDUTY_REGIONS: "all" }).protection.regions).toHaveProperty("ap-south-1");
    expect(() => loadConfig({ ...env, GUARDDUTY_REGIONS: "us-east-1" })).toThrow(/PROTECTION_PLANS/);
  });

  it("hands invited members to the member side's queue in invitation mode", () => {
    expect(loadConfig({ ...base, ACCEPT_QUEUE_URL: ACCEPT_QUEUE }).acceptQueueUrl).toBe(ACCEPT_QUEUE);
    expect(() => loadConfig(base)).toThrow(
      new ConfigError("ACCEPT_QUEUE_URL", "is required (the queue URL)"),
    );
  });

  it("has no member side in organization mode or when it is switched off", () => {
    expect(loadConfig({ ...base, MEMBERSHIP_MODE: "organization" }).acceptQueueUrl).toBeUndefined();
    expect(loadConfig({ ...base, ACCEPT_INVITATIONS: "false" }).acceptQueueUrl).toBeUndefined();
  });

  it("reads every stage parameter", () => {
    const config = loadConfig({
      ...base,
      GUARDDUTY_REGIONS: " eu-west-1, us-east-1 ,eu-west-1",
      MEMBERSHIP_MODE: "organization",
      INVITATION_MESSAGE: "Welcome",
      DISABLE_EMAIL_NOTIFICATION: "false",
      MAX_ATTEMPTS: "3",
      RETRY_BASE_DELAY_SECONDS: "5",
      ADMINISTRATOR_ACCOUNT_ID: "111111111111",
    });

    expect(config).toMatchObject({
      regions: ["eu-west-1", "us-east-1"],
      mode: "organization",
      invitationMessage: "Welcome",
      disableEmailNotification: false,
      maxAttempts: 3,
      retryBaseDelaySeconds: 5,
      administratorAccountId: "111111111111",
    });
  });

  it.each([
    [{ GUARDDUTY_REGIONS: "us-east-1,Moon" }, "GUARDDUTY_REGIONS"],
    [{ MEMBERSHIP_MODE: "delegated" }, "MEMBERSHIP_MODE"],
    [{ DISABLE_EMAIL_NOTIFICATION: "yes" }, "DISABLE_EMAIL_NOTIFICATION"],
    [{ MAX_ATTEMPTS: "0" }, "MAX_ATTEMPTS"],
    [{ MAX_ATTEMPTS: "2.5" }, "MAX_ATTEMPTS"],
    [{ RETRY_BASE_DELAY_SECONDS: "901" }, "RETRY_BASE_DELAY_SECONDS"],
    [{ RETRY_QUEUE_URL: "" }, "RETRY_QUEUE_URL"],
    [{ DEAD_LETTER_QUEUE_URL: "not a url" }, "DEAD_LETTER_QUEUE_URL"],
    [{ ADMINISTRATOR_ACCOUNT_ID: "1111" }, "ADMINISTRATOR_ACCOUNT_ID"],
    [{ AWS_REGION: "" }, "GUARDDUTY_REGIONS"],
    [{ ACCEPT_INVITATIONS: "maybe" }, "ACCEPT_INVITATIONS"],
  ])("fails fast naming the variable for %o", (override, variable) => {
    const load = () => loadConfig({ ...base, ...override });

    expect(load).toThrow(ConfigError);
    expect(load).toThrow(new RegExp(`^${variable}: `));
  });
});

describe("loadAcceptConfig", () => {
  const accept = { ...base, ACCEPT_QUEUE_URL: ACCEPT_QUEUE };

  it("enters members through member-role/template.yml's role by default, in sessions named after the function", () => {
    expect(
      loadAcceptConfig({ ...accept, AWS_LAMBDA_FUNCTION_NAME: "guardduty-onboarding-prod-accept" }),
    ).toMatchObject({
      regions: ["us-east-1"],
      administratorAccountId: "111111111111",
      acceptQueueUrl: ACCEPT_QUEUE,
      roleName: "GuardDutyOnboardingMember",
      externalId: undefined,
      sourceIdentity: true,
      sessionName: "guardduty-onboarding-prod-accept",
    });
    expect(
      loadAcceptConfig({
        ...accept,
        MEMBER_ROLE_NAME: "OrganizationAccountAccessRole",
        MEMBER_ROLE_EXTERNAL_ID: "x-1",
        MEMBER_SOURCE_IDENTITY: "false",
      }),
    ).toMatchObject({
      roleName: "OrganizationAccountAccessRole",
      externalId: "x-1",
      sourceIdentity: false,
      sessionName: "guardduty-onboarding",
    });
  });

  it("needs the administrator whose invitation members accept, and a valid role name", () => {
    expect(() => loadAcceptConfig({ ...accept, ADMINISTRATOR_ACCOUNT_ID: "" })).toThrow(ConfigError);
    expect(() => loadAcceptConfig({ ...accept, MEMBER_ROLE_NAME: "no spaces allowed" })).toThrow(
      new ConfigError("MEMBER_ROLE_NAME", '"no spaces allowed" is not an IAM role name'),
    );
  });
});
