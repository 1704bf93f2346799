import { beforeAll, describe, expect, it } from "vitest";
import { CLIENT_DEFAULTS } from "#shared/clients";
import { loadConfig } from "#shared/config";
import { type IsolatedPackage, packageIsolated } from "../support/isolated-package.ts";

/**
 * The packaged CloudFormation template's hardening and observability invariants (issue 6): least
 * privilege, TLS-only encrypted queues, alarms, the dashboard, the management account's bus policy, and
 * SDK timeouts that fit inside the function's. Packaged with the optional parameters set, so that the
 * conditional resources are in the template too.
 */
type Json = Record<string, unknown>;
interface Resource {
  Type: string;
  Condition?: string;
  Properties: Json;
}
interface Statement {
  Sid?: string;
  Effect: "Allow" | "Deny";
  Principal?: unknown;
  Action: string | string[];
  Resource: unknown;
  Condition?: Record<string, Record<string, unknown>>;
}

const MANAGEMENT_ACCOUNT = "111111111111";
const ALARM_EMAIL = "ops@example.com";

let packaged: IsolatedPackage;
const resources = () => packaged.template.Resources as Record<string, Resource>;
const template = () => packaged.template as unknown as Json;
const ofType = (type: string) => Object.entries(resources()).filter(([, resource]) => resource.Type === type);
const props = (name: string) => resources()[name]?.Properties ?? {};
const list = <T>(value: T | T[]): T[] => (Array.isArray(value) ? value : [value]);
const getAtt = (name: string, attribute: string) => ({ "Fn::GetAtt": [name, attribute] });
const environment = () =>
  (props("OnboardLambdaFunction").Environment as { Variables: Record<string, string> }).Variables;

/** Every policy document of the template, named by the resource that holds it. */
function statements(): { owner: string; statement: Statement }[] {
  return Object.entries(resources()).flatMap(([owner, { Type, Properties }]) => {
    const documents: { Statement: Statement | Statement[] }[] = [];
    if (Type === "AWS::IAM::Role") {
      for (const policy of (Properties.Policies ?? []) as { PolicyDocument: never }[])
        documents.push(policy.PolicyDocument);
    }
    if (["AWS::SQS::QueuePolicy", "AWS::SNS::TopicPolicy", "AWS::IAM::Policy"].includes(Type))
      documents.push(Properties.PolicyDocument as never);
    if (Type === "AWS::Events::EventBusPolicy") documents.push({ Statement: Properties.Statement as never });
    return documents.flatMap((document) =>
      list(document.Statement).map((statement) => ({ owner, statement })),
    );
  });
}

beforeAll(async () => {
  packaged = await packageIsolated([
    "--stage",
    "test",
    "--param",
    "regions=us-east-1,eu-west-1",
    "--param",
    `alarmEmail=${ALARM_EMAIL}`,
    "--param",
    `managementAccountId=${MANAGEMENT_ACCOUNT}`,
  ]);
}, 180_000);

describe("least privilege", () => {
  it("allows no action '*' and no service-wide 'service:*' in any policy of the template", () => {
    const allows = statements().filter(({ statement }) => statement.Effect === "Allow");

    expect(allows.length).toBeGreaterThan(0);
    for (const { owner, statement } of allows) {
      expect(statement, owner).not.toHaveProperty("NotAction");
      for (const action of list(statement.Action)) {
        expect(action, owner).not.toBe("*");
        expect(action, owner).not.toMatch(/:\*$/);
      }
    }
    // Deny statements may name a whole service: `DenyInsecureTransport` denies `sqs:*` (and `sns:Publish`)
    // without TLS, the standard TLS-only pattern; a Deny grants nothing.
  });

  // Resource types, regions and what each role may and may not do: test/config/iam.test.ts, which
  // simulates the policies with the Service Authorization Reference.
});

describe("queues", () => {
  const queues = () => ofType("AWS::SQS::Queue").map(([name]) => name);
  const policiesOf = (queue: string) =>
    ofType("AWS::SQS::QueuePolicy")
      .map(([, resource]) => resource.Properties)
      .filter((policy) => JSON.stringify(policy.Queues).includes(JSON.stringify({ Ref: queue })))
      .flatMap((policy) => list((policy.PolicyDocument as { Statement: Statement[] }).Statement));

  it("encrypts every queue and attaches a policy denying it any request without TLS", () => {
    expect(queues().length).toBeGreaterThanOrEqual(3);
    for (const queue of queues()) {
      const tlsOnly = policiesOf(queue).filter(
        (statement) =>
          statement.Effect === "Deny" &&
          statement.Principal === "*" &&
          list(statement.Action).includes("sqs:*") &&
          JSON.stringify(list(statement.Resource)).includes(JSON.stringify(getAtt(queue, "Arn"))),
      );

      expect(props(queue).SqsManagedSseEnabled === true || props(queue).KmsMasterKeyId !== undefined).toBe(
        true,
      );
      expect(tlsOnly.map((statement) => statement.Condition)).toEqual([
        { Bool: { "aws:SecureTransport": "false" } },
      ]);
    }
  });

  it("lets EventBridge send only from the stack's own rules, and no one else in", () => {
    const rules = ofType("AWS::Events::Rule");

    for (const queue of queues()) {
      const allows = policiesOf(queue).filter((statement) => statement.Effect === "Allow");
      const targeting = rules
        .filter(([, rule]) =>
          JSON.stringify(rule.Properties.Targets).includes(JSON.stringify(getAtt(queue, "Arn"))),
        )
        .map(([name]) => getAtt(name, "Arn"));
      for (const statement of allows) {
        expect(statement.Principal).toEqual({ Service: "events.amazonaws.com" });
        expect(statement.Action).toBe("sqs:SendMessage");
        expect(statement.Condition).toEqual({ ArnEquals: { "aws:SourceArn": targeting } });
      }
      // A queue that a rule targets has exactly that allowance; the others admit EventBridge not at all.
      expect(allows).toHaveLength(targeting.length > 0 ? 1 : 0);
    }
  });
});

describe("alarms", () => {
  const alarms = () =>
    ofType("AWS::CloudWatch::Alarm").map(([name, resource]): Json & { name: string } => ({
      name,
      ...resource.Properties,
    }));
  const alarmOn = (metric: string, dimension: unknown) =>
    alarms().filter(
      (alarm) =>
        alarm.MetricName === metric && JSON.stringify(alarm.Dimensions).includes(JSON.stringify(dimension)),
    );

  it("fires as soon as the dead-letter queue holds a message", () => {
    expect(
      alarmOn("ApproximateNumberOfMessagesVisible", getAtt("DeadLetterQueue", "QueueName")),
    ).toContainEqual(
      expect.objectContaining({
        Namespace: "AWS/SQS",
        Statistic: "Maximum",
        Threshold: 0,
        ComparisonOperator: "GreaterThanThreshold",
      }),
    );
  });

  it("fires when a source queue's oldest message outlives the longest healthy wait", () => {
    for (const queue of ["OnboardingQueue", "RetryQueue"]) {
      const [alarm, ...others] = alarmOn("ApproximateAgeOfOldestMessage", getAtt(queue, "QueueName"));
      const threshold = Number(alarm?.Threshold);

      expect(others).toEqual([]);
      expect(alarm).toMatchObject({
        Namespace: "AWS/SQS",
        Statistic: "Maximum",
        ComparisonOperator: "GreaterThanThreshold",
      });
      // The oldestMessageAgeAlarmSeconds default.
      expect(threshold).toBe(3600);
      // Healthy waits: one retry hop's delay (≤ 900 s, SQS DelaySeconds) and the redeliveries of a
      // crashing batch before SQS redrives it (maxReceiveCount × visibility timeout).
      const { VisibilityTimeout, RedrivePolicy } = props(queue) as {
        VisibilityTimeout: number;
        RedrivePolicy: { maxReceiveCount: number };
      };
      expect(threshold).toBeGreaterThan(Math.max(900, RedrivePolicy.maxReceiveCount * VisibilityTimeout));
    }
  });

  it("fires on any error or throttle of the onboard function, and while the scheduled reconciliation fails", () => {
    const fn = { Ref: "OnboardLambdaFunction" };

    expect(alarmOn("Errors", fn)).toContainEqual(
      expect.objectContaining({ Namespace: "AWS/Lambda", Statistic: "Sum", Threshold: 0 }),
    );
    expect(alarmOn("Throttles", fn)).toContainEqual(
      expect.objectContaining({ Namespace: "AWS/Lambda", Statistic: "Sum", Threshold: 0 }),
    );
    // A daily job reports rarely: missing data keeps a failed run's alarm raised until a run succeeds.
    expect(alarmOn("Errors", { Ref: "ReconcileLambdaFunction" })).toContainEqual(
      expect.objectContaining({ Namespace: "AWS/Lambda", Threshold: 0, TreatMissingData: "missing" }),
    );
  });

  it("fires when every reconcile run of the last coverageAlarmMinutes measured Coverage below 1, and keeps its state between runs", () => {
    const [alarm, ...others] = alarmOn("Coverage", { Name: "service", Value: "guardduty-onboarding" });

    expect(others).toEqual([]);
    expect(alarm).toMatchObject({
      name: "CoverageBelowTargetAlarm",
      Namespace: environment().POWERTOOLS_METRICS_NAMESPACE,
      Statistic: "Minimum",
      Period: 60,
      Threshold: 1,
      ComparisonOperator: "LessThanThreshold",
      // The runs are the only datapoints: a minute without one neither breaches nor clears.
      TreatMissingData: "ignore",
    });
    // The coverageAlarmMinutes default (one day, the reconcile schedule's), every minute of it breaching.
    expect(Number(alarm?.EvaluationPeriods)).toBe(1440);
    expect(Number(alarm?.DatapointsToAlarm)).toBe(1440);
    // CloudWatch: with periods under an hour, Period × EvaluationPeriods ≤ one day.
    expect(Number(alarm?.Period) * Number(alarm?.EvaluationPeriods)).toBeLessThanOrEqual(86_400);
  });

  it("notifies the stack's SNS topic on alarm and recovery, with the e-mail subscription when one is set", () => {
    const [topic, ...others] = ofType("AWS::SNS::Topic").map(([name]) => name);
    const subscription = ofType("AWS::SNS::Subscription").map(([, resource]) => resource);
    const parameters = template().Parameters as Record<string, { Default: string }>;

    expect(others).toEqual([]);
    expect(alarms().length).toBeGreaterThanOrEqual(5);
    for (const alarm of alarms()) {
      expect(alarm.AlarmActions, alarm.name).toEqual([{ Ref: topic }]);
      expect(alarm.OKActions, alarm.name).toEqual([{ Ref: topic }]);
    }
    expect(subscription).toEqual([
      {
        Type: "AWS::SNS::Subscription",
        Condition: "HasAlarmEmail",
        Properties: { TopicArn: { Ref: topic }, Protocol: "email", Endpoint: { Ref: "AlarmEmail" } },
      },
    ]);
    expect(parameters.AlarmEmail?.Default).toBe(ALARM_EMAIL);
    // Only this account's alarms publish, over TLS.
    const topicPolicy = statements().filter(
      ({ owner }) => resources()[owner]?.Type === "AWS::SNS::TopicPolicy",
    );
    expect(topicPolicy.map(({ statement }) => [statement.Effect, statement.Principal])).toEqual([
      ["Allow", { Service: "cloudwatch.amazonaws.com" }],
      ["Deny", "*"],
    ]);
    expect(topicPolicy[0]?.statement.Condition?.StringEquals).toEqual({
      "aws:SourceAccount": { Ref: "AWS::AccountId" },
    });
    expect(topicPolicy[1]?.statement.Condition).toEqual({ Bool: { "aws:SecureTransport": "false" } });
    expect((template().Conditions as Json).HasAlarmEmail).toEqual({
      "Fn::Not": [{ "Fn::Equals": [{ Ref: "AlarmEmail" }, ""] }],
    });
  });
});

describe("dashboard", () => {
  interface Widget {
    type: string;
    x: number;
    width: number;
    properties: { region?: string; metrics?: unknown[][]; alarms?: string[]; query?: string };
  }
  /** The body with every `${…}` of Fn::Sub replaced by `<…>`, parsed, plus the references it makes. */
  const dashboard = () => {
    const [dashboards, ...others] = ofType("AWS::CloudWatch::Dashboard");
    expect(others).toEqual([]);
    const body = (dashboards?.[1].Properties.DashboardBody as { "Fn::Sub"?: string } | undefined)?.[
      "Fn::Sub"
    ];
    if (body === undefined) throw new Error("the template has no dashboard with a Fn::Sub body");
    const references = [...body.matchAll(/\$\{([^}]+)\}/g)].map(([, reference]) => reference as string);
    const parsed = JSON.parse(body.replace(/\$\{([^}]+)\}/g, "<$1>")) as { widgets: Widget[] };
    return { references, widgets: parsed.widgets };
  };
  const metricRows = () => dashboard().widgets.flatMap((widget) => widget.properties.metrics ?? []);

  it("references only resources of the stack, and every alarm", () => {
    const { references, widgets } = dashboard();

    for (const reference of references) {
      if (reference.startsWith("AWS::")) continue;
      expect(Object.keys(resources())).toContain(reference.split(".")[0]);
    }
    expect(widgets.flatMap((widget) => widget.properties.alarms ?? []).sort()).toEqual(
      ofType("AWS::CloudWatch::Alarm")
        .map(([name]) => `<${name}.Arn>`)
        .sort(),
    );
    for (const widget of widgets) {
      expect(widget.x + widget.width).toBeLessThanOrEqual(24);
      if (widget.type !== "alarm") expect(widget.properties.region).toBe("<AWS::Region>");
    }
  });

  it("charts the depth and age of every queue and the onboard function's errors, throttles and duration", () => {
    const has = (...metric: string[]) =>
      metricRows().some((row) => metric.every((item, index) => row[index] === item));

    for (const queue of ["OnboardingQueue", "RetryQueue", "DeadLetterQueue"]) {
      expect(has("AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", `<${queue}.QueueName>`)).toBe(
        true,
      );
    }
    for (const queue of ["OnboardingQueue", "RetryQueue"]) {
      expect(has("AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", `<${queue}.QueueName>`)).toBe(true);
    }
    for (const metric of ["Invocations", "Errors", "Throttles", "Duration"]) {
      expect(has("AWS/Lambda", metric, "FunctionName", "<OnboardLambdaFunction>")).toBe(true);
    }
    expect(props("OnboardLambdaFunction").FunctionName).toBe("guardduty-onboarding-test-onboard");
  });

  it("charts the function's EMF metrics in its namespace and service: every outcome, and by reason, attempt and API", () => {
    const { POWERTOOLS_METRICS_NAMESPACE: namespace, POWERTOOLS_SERVICE_NAME: service } = environment();
    const emf = metricRows().filter((row) => row[0] === namespace);
    const searches = metricRows()
      .flat()
      .map((item) => (item as { expression?: string }).expression ?? "")
      .filter((expression) => expression.startsWith("SEARCH("));

    expect(namespace).toBe("GuardDutyOnboarding");
    for (const row of emf) expect(row.slice(2, 4)).toEqual(["service", service]);
    expect(emf.filter((row) => row[1] === "Outcome").map((row) => row[5])).toEqual(
      expect.arrayContaining(["invited", "enabled", "already", "retry", "dead-letter", "skipped"]),
    );
    expect(emf.map((row) => row[1])).toContain("DriftFound");
    expect(emf.map((row) => row[1])).toContain("Coverage");
    for (const [metric, dimension] of [
      ["DeadLettered", "reason"],
      ["Coverage", "region"],
      ["Retried", "attempt"],
      ["ApiLatency", "api"],
      ["ApiThrottled", "api"],
    ]) {
      expect(searches).toContainEqual(
        expect.stringContaining(`{"${namespace}",${dimension},service} MetricName="${metric}"`),
      );
    }
    expect(searches).toContainEqual(
      expect.stringContaining(`{"${namespace}",service,verdict} MetricName="CoveragePairs"`),
    );
  });

  it("queries the onboard function's own log group", () => {
    const queries = dashboard().widgets.flatMap((widget) => widget.properties.query ?? []);

    expect(queries).toEqual([expect.stringMatching(/^SOURCE '<OnboardLogGroup>' \|/)]);
    expect(props("OnboardLogGroup").LogGroupName).toBe("/aws/lambda/guardduty-onboarding-test-onboard");
  });
});

describe("events from the Organizations management account", () => {
  it("lets a named management account, and only it, put events on the default bus", () => {
    const policies = ofType("AWS::Events::EventBusPolicy").map(([, resource]) => resource);
    const parameters = template().Parameters as Record<string, { Default: string; AllowedPattern: string }>;

    expect(policies).toEqual([
      expect.objectContaining({
        Condition: "ForwardsFromManagementAccount",
        Properties: expect.objectContaining({
          EventBusName: "default",
          Statement: {
            Effect: "Allow",
            // biome-ignore lint/suspicious/noTemplateCurlyInString: CloudFormation Fn::Sub syntax
            Principal: { AWS: { "Fn::Sub": "arn:${AWS::Partition}:iam::${ManagementAccountId}:root" } },
            Action: "events:PutEvents",
            Resource: {
              // biome-ignore lint/suspicious/noTemplateCurlyInString: CloudFormation Fn::Sub syntax
              "Fn::Sub": "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/default",
            },
          },
        }),
      }),
    ]);
    expect(parameters.ManagementAccountId?.Default).toBe(MANAGEMENT_ACCOUNT);
    const pattern = new RegExp(parameters.ManagementAccountId?.AllowedPattern ?? "");
    expect(["", MANAGEMENT_ACCOUNT].map((value) => pattern.test(value))).toEqual([true, true]);
    expect(["11111111111", "o-abc123", "111111111111 "].map((value) => pattern.test(value))).toEqual([
      false,
      false,
      false,
    ]);
    // Set, and not the stack's own account (whose events need no policy).
    expect((template().Conditions as Json).ForwardsFromManagementAccount).toEqual({
      "Fn::And": [
        { "Fn::Not": [{ "Fn::Equals": [{ Ref: "ManagementAccountId" }, ""] }] },
        { "Fn::Not": [{ "Fn::Equals": [{ Ref: "ManagementAccountId" }, { Ref: "AWS::AccountId" }] }] },
      ],
    });
  });

  it("matches forwarded events with the same rules: no rule filters on the source account", () => {
    const patterns = ofType("AWS::Events::Rule").filter(([, rule]) => rule.Properties.EventPattern);

    expect(patterns.length).toBeGreaterThanOrEqual(2);
    for (const [name, rule] of patterns) {
      expect(rule.Properties.EventPattern, name).not.toHaveProperty("account");
      expect(rule.Properties.EventBusName ?? "default", name).toBe("default");
    }
  });
});

describe("timeouts", () => {
  it("gives each SDK request a connect and request timeout that fit well inside the function timeout", () => {
    const timeoutMs = (props("OnboardLambdaFunction").Timeout as number) * 1000;
    // The function's own configuration, from the packaged environment (queue URLs stand in for the Refs).
    const config = loadConfig({
      ...environment(),
      RETRY_QUEUE_URL: "https://sqs.us-east-1.amazonaws.com/210987654321/retry",
      DEAD_LETTER_QUEUE_URL: "https://sqs.us-east-1.amazonaws.com/210987654321/dead-letter",
      ACCEPT_QUEUE_URL: "https://sqs.us-east-1.amazonaws.com/210987654321/accept",
      ACCOUNT_DIRECTORY_TABLE: "guardduty-onboarding-test-account-directory",
      DEAD_LETTER_INDEX_TABLE: "guardduty-onboarding-test-dead-letter-index",
      ADMINISTRATOR_ACCOUNT_ID: "210987654321",
    });

    expect(timeoutMs).toBe(60_000);
    expect(CLIENT_DEFAULTS.connectionTimeoutMs + CLIENT_DEFAULTS.requestTimeoutMs).toBeLessThan(
      timeoutMs / 2,
    );
    expect(CLIENT_DEFAULTS.connectionTimeoutMs + config.sdkRequestTimeoutMs).toBeLessThan(timeoutMs / 2);
  });
});
