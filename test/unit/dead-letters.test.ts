import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { deadLetterOf, invalidDeadLetter } from "#shared/dead-letter";
import {
  type DeadLetterView,
  matchesFilter,
  type QueuedDeadLetter,
  REDRIVEN_BY_SQS,
  readDeadLetter,
} from "#shared/dead-letters";
import type { OnboardingRequest } from "#shared/message";
import { onboardingRequest, organizationsEvent } from "../support/events.ts";

const ACCOUNT = "123456789012";
const SENT_AT = Date.UTC(2026, 10, 26, 5, 0, 0);

function queued(body: unknown, fields: Partial<QueuedDeadLetter> = {}): QueuedDeadLetter {
  return {
    messageId: "m-1",
    body: typeof body === "string" ? body : JSON.stringify(body),
    receiveCount: 1,
    sentAt: SENT_AT,
    ...fields,
  };
}

/** The request a replay would send, parsed. */
function replayed(view: DeadLetterView): Record<string, unknown> {
  if (!("body" in view.replay)) throw new Error(`not replayable: ${view.replay.notReplayable}`);
  return JSON.parse(view.replay.body) as Record<string, unknown>;
}

describe("dead letters written by the pipeline", () => {
  it("shows reason, account, region and attempts, and replays the request fresh", () => {
    // Prepare: what routing writes for a permanent failure in one region.
    const request: OnboardingRequest = {
      version: 1,
      accountId: ACCOUNT,
      attempt: 2,
      origin: "retry",
      correlationId: "evt-1",
      lastError: { reason: "throttled", detail: "slow down", region: "eu-west-1" },
    };
    const body = deadLetterOf(
      request,
      "eu-west-1",
      { reason: "guardduty-not-enabled-in-region", detail: "no detector" },
      "2026-11-26T05:00:00.000Z",
    );

    // Act
    const view = readDeadLetter(queued(body));

    // Assess
    expect(view).toMatchObject({
      source: "pipeline",
      reason: "guardduty-not-enabled-in-region",
      detail: "no detector",
      accountId: ACCOUNT,
      region: "eu-west-1",
      attempts: 3,
      correlationId: "evt-1",
      sentAt: new Date(SENT_AT).toISOString(),
    });
    expect(replayed(view)).toEqual({
      version: 1,
      accountId: ACCOUNT,
      regions: ["eu-west-1"],
      attempt: 0,
      origin: "replay",
      correlationId: "evt-1",
    });
  });

  it("keeps fields of the request it does not know (a newer step, say) and drops only lastError", () => {
    const body = {
      reason: "member-role-not-assumable",
      detail: "AccessDenied",
      accountId: ACCOUNT,
      region: "us-east-1",
      at: "2026-11-26T05:00:00.000Z",
      attempt: 7,
      request: {
        ...onboardingRequest(ACCOUNT, { attempt: 7, origin: "retry", regions: ["us-east-1"] }),
        step: "accept",
        futureField: { kept: true },
        lastError: { reason: "access-denied", detail: "AccessDenied" },
      },
    };

    const request = replayed(readDeadLetter(queued(body)));

    expect(request).toEqual({
      version: 1,
      accountId: ACCOUNT,
      regions: ["us-east-1"],
      attempt: 0,
      origin: "replay",
      requestedAt: "2026-11-26T05:00:00Z",
      step: "accept",
      futureField: { kept: true },
    });
  });

  it("lists an invalid-message dead letter with its raw body, e-mail addresses redacted, and never replays it", () => {
    const body = invalidDeadLetter(
      '{"owner":"root@example.com"',
      "body is not JSON",
      "2026-11-26T05:00:00.000Z",
    );

    const view = readDeadLetter(queued(body));

    expect(view).toMatchObject({ source: "pipeline", reason: "invalid-message", raw: '{"owner":"<email>"' });
    expect(view.accountId).toBeUndefined();
    expect(view.replay).toEqual({ notReplayable: expect.stringContaining("fix the producer") });
  });

  it("refuses to replay a request that is no longer valid, saying why", () => {
    const body = {
      reason: "rejected-by-guardduty",
      detail: "x",
      at: "2026-11-26T05:00:00.000Z",
      request: { version: 1, accountId: "12345" },
    };

    expect(readDeadLetter(queued(body)).replay).toEqual({
      notReplayable: expect.stringMatching(/request is not valid \(.*accountId/),
    });
  });
});

describe("original bodies SQS redrove after repeated failures", () => {
  it("turns an EventBridge event into a fresh request for its account, correlated with the event", () => {
    const event = organizationsEvent(ACCOUNT, { id: "evt-9" });

    const view = readDeadLetter(
      queued(event, { receiveCount: 6, sourceQueueArn: "arn:aws:sqs:us-east-1:1:q" }),
    );

    expect(view).toMatchObject({
      source: "sqs-redrive",
      reason: REDRIVEN_BY_SQS,
      accountId: ACCOUNT,
      receiveCount: 6,
      sourceQueueArn: "arn:aws:sqs:us-east-1:1:q",
    });
    expect(replayed(view)).toEqual({
      version: 1,
      accountId: ACCOUNT,
      attempt: 0,
      origin: "replay",
      requestedAt: "2026-11-26T05:00:00Z",
      correlationId: "evt-9",
    });
  });

  it("replays a redriven request with its regions and unknown fields", () => {
    const body = { ...onboardingRequest(ACCOUNT, { attempt: 4, regions: ["eu-west-1"] }), futureField: 1 };

    const view = readDeadLetter(queued(body));

    expect(view).toMatchObject({ source: "sqs-redrive", region: "eu-west-1", attempts: 5 });
    expect(replayed(view)).toMatchObject({
      attempt: 0,
      origin: "replay",
      regions: ["eu-west-1"],
      futureField: 1,
    });
  });

  it("does not replay an unparseable body or an event about a failed creation", () => {
    const garbage = readDeadLetter(queued("not json"));
    const failed = readDeadLetter(queued(organizationsEvent(ACCOUNT, { state: "FAILED" })));

    expect(garbage).toMatchObject({ source: "sqs-redrive", raw: "not json" });
    expect(garbage.replay).toEqual({ notReplayable: expect.stringContaining("not a valid message") });
    expect(failed.replay).toEqual({ notReplayable: expect.stringContaining("state FAILED") });
  });
});

describe("selection", () => {
  const pipeline = readDeadLetter(
    queued({
      reason: "not-in-organization",
      detail: "",
      accountId: ACCOUNT,
      at: "2026-11-26T05:00:00.000Z",
      request: onboardingRequest(ACCOUNT),
    }),
  );
  const redriven = readDeadLetter(queued(onboardingRequest("210987654321")));

  it("matches on reason and account together", () => {
    expect(matchesFilter(pipeline, { reason: "not-in-organization" })).toBe(true);
    expect(matchesFilter(pipeline, { reason: "not-in-organization", accountId: "210987654321" })).toBe(false);
    expect(matchesFilter(redriven, { reason: REDRIVEN_BY_SQS, accountId: "210987654321" })).toBe(true);
    expect(matchesFilter(redriven, {})).toBe(true);
  });

  it("shows a redriven lifecycle event that names several accounts, or none, as not replayable one by one", () => {
    const sample = (name: string) => JSON.parse(readFileSync(`events/lifecycle/${name}.json`, "utf8"));
    const tamper = readDeadLetter(queued(sample("guardduty-delete-members.cloudtrail-api-call")));
    const failedCall = sample("organizations-accept-handshake.cloudtrail-api-call");
    failedCall.detail.errorCode = "AccessDenied";
    const ignored = readDeadLetter(queued(failedCall));

    expect(tamper.replay).toEqual({ notReplayable: expect.stringContaining("names 2 accounts") });
    expect(ignored.replay).toEqual({ notReplayable: "the call failed (AccessDenied): nothing to do" });
    expect(ignored.correlationId).toBe(failedCall.id);
  });

  it("shows a reconcile unit SQS moved here as not replayable: the next scheduled run does its work", () => {
    const unit = {
      version: 1,
      kind: "accounts",
      runId: "run-1",
      regions: ["us-east-1"],
      chunk: 3,
      nextToken: "t",
    };

    const view = readDeadLetter(queued(unit, { receiveCount: 5 }));

    expect(view).toMatchObject({
      source: "sqs-redrive",
      reason: REDRIVEN_BY_SQS,
      replay: { notReplayable: expect.stringContaining("a unit of a reconcile run") },
    });
    expect(view.accountId).toBeUndefined();
  });
});
