import { randomUUID } from "node:crypto";
import type { SQSRecord } from "aws-lambda";

/**
 * Event factories in the shapes AWS delivers them: an EventBridge rule puts the event itself on the
 * queue, so an SQS record's body is the whole event.
 */

export function organizationsEvent(
  accountId: string | undefined,
  options: { state?: string; stringDetails?: boolean; id?: string } = {},
): Record<string, unknown> {
  const status = {
    id: "car-5a4c0f2e8f9b11e9a0b20a1b2c3d4e5f",
    state: options.state ?? "SUCCEEDED",
    accountName: "****",
    ...(accountId === undefined ? {} : { accountId }),
    requestedTimestamp: "Nov 26, 2026 4:59:41 AM",
    completedTimestamp: "Nov 26, 2026 5:00:00 AM",
  };
  const details = { createAccountStatus: status };
  return envelope("aws.organizations", options.id, {
    eventSource: "organizations.amazonaws.com",
    eventName: "CreateAccountResult",
    serviceEventDetails: options.stringDetails ? JSON.stringify(details) : details,
  });
}

export function controlTowerEvent(accountId: string, options: { state?: string; id?: string } = {}) {
  return envelope("aws.controltower", options.id, {
    eventSource: "controltower.amazonaws.com",
    eventName: "CreateManagedAccount",
    serviceEventDetails: {
      createManagedAccountStatus: {
        organizationalUnit: { organizationalUnitName: "Workloads", organizationalUnitId: "ou-ab12-cd34ef56" },
        account: { accountName: "payments-prod", accountId },
        state: options.state ?? "SUCCEEDED",
        message: "AWS Control Tower successfully created an enrolled account.",
      },
    },
  });
}

function envelope(source: string, id: string | undefined, detail: Record<string, unknown>) {
  return {
    version: "0",
    id: id ?? randomUUID(),
    "detail-type": "AWS Service Event via CloudTrail",
    source,
    account: "111111111111",
    time: "2026-11-26T05:00:00Z",
    region: "us-east-1",
    resources: [],
    detail: {
      eventVersion: "1.08",
      userIdentity: { accountId: "111111111111", invokedBy: "AWS Internal" },
      eventTime: "2026-11-26T05:00:00Z",
      awsRegion: "us-east-1",
      eventType: "AwsServiceEvent",
      managementEvent: true,
      recipientAccountId: "111111111111",
      ...detail,
    },
  };
}

export function onboardingRequest(accountId: string, fields: Record<string, unknown> = {}) {
  return {
    version: 1,
    accountId,
    attempt: 0,
    origin: "manual",
    requestedAt: "2026-11-26T05:00:00Z",
    ...fields,
  };
}

/** An SQS record as Lambda's event source delivers it; `body` objects are serialised as a rule would. */
export function sqsRecord(body: unknown, messageId: string = randomUUID()): SQSRecord {
  return {
    messageId,
    receiptHandle: `handle-${messageId}`,
    body: typeof body === "string" ? body : JSON.stringify(body),
    attributes: {
      ApproximateReceiveCount: "1",
      SentTimestamp: "1795669200000",
      SenderId: "AIDAEXAMPLE",
      ApproximateFirstReceiveTimestamp: "1795669200000",
    },
    messageAttributes: {},
    md5OfBody: "",
    eventSource: "aws:sqs",
    eventSourceARN: "arn:aws:sqs:us-east-1:111111111111:guardduty-onboarding-dev-onboarding",
    awsRegion: "us-east-1",
  };
}

/** `count` distinct, valid 12-digit account ids starting at `first`. */
export function accountIds(count: number, first = 100000000000): string[] {
  return Array.from({ length: count }, (_, index) => String(first + index));
}
