import { Metrics } from "@aws-lambda-powertools/metrics";
import { describe, expect, it, vi } from "vitest";
import type { OnboardingRequest } from "#shared/message";
import { PipelineMetrics } from "#shared/metrics";
import type { Cell, Note, Plan } from "#shared/plan";
import { type Log, report } from "#shared/report";

const MEMBER = "222222222222";
const request: OnboardingRequest = {
  version: 1,
  accountId: MEMBER,
  attempt: 2,
  origin: "retry",
  correlationId: "evt-1",
};
/** A cell as it is once the accounts are resolved: it carries the account's e-mail. */
const cell = (region: string, outcome: Cell["outcome"]): Cell => ({
  messageId: "m1",
  request,
  region,
  email: "owner+222222222222@example.com",
  outcome,
});
const invalid: Note = {
  messageId: "m2",
  outcome: "dead-letter",
  reason: "invalid-message",
  detail: "body is not JSON",
  raw: '{"email":"leak@example.com"',
};
const failedCreation: Note = {
  messageId: "m3",
  outcome: "skipped",
  reason: "account-not-created",
  detail: "the event reports an account creation in state FAILED",
  correlationId: "evt-3",
};
const plan: Plan = {
  cells: [
    cell("us-east-1", { outcome: "invited", memberStatus: "Invited" }),
    cell("eu-west-1", { outcome: "retry", reason: "throttled", detail: "Rate exceeded" }),
    cell("eu-central-1", {
      outcome: "dead-letter",
      reason: "already-member-of-another-administrator",
      detail: "x",
    }),
    cell("ap-south-1", { outcome: "enabled" }),
  ],
  notes: [invalid, failedCreation],
};

function logger() {
  const lines: { level: string; message: string; fields: Record<string, unknown> }[] = [];
  const at =
    (level: string) =>
    (...[message, fields]: unknown[]) => {
      lines.push({ level, message: String(message), fields: (fields ?? {}) as Record<string, unknown> });
    };
  const log: Log = { info: vi.fn(at("info")), warn: vi.fn(at("warn")), error: vi.fn(at("error")) };
  return { log, lines };
}
function metrics() {
  const pipeline = new PipelineMetrics(new Metrics({ namespace: "Test", serviceName: "test" }));
  return { pipeline, outcome: vi.spyOn(pipeline, "outcome") };
}

describe("report", () => {
  it("writes one line per final cell and one per note, at the level of its outcome", () => {
    const { log, lines } = logger();

    report(plan, log);

    expect(
      lines.map(({ level, message, fields }) => [level, message, fields.region, fields.outcome]),
    ).toEqual([
      ["info", "account outcome", "us-east-1", "invited"],
      ["warn", "account outcome", "eu-west-1", "retry"],
      ["error", "account outcome", "eu-central-1", "dead-letter"],
      ["info", "account outcome", "ap-south-1", "enabled"],
      ["error", "message outcome", undefined, "dead-letter"],
      ["info", "message outcome", undefined, "skipped"],
    ]);
  });

  it("names the account, region, reason, attempt, origin, message and correlation id of a cell's line", () => {
    const { log, lines } = logger();

    report(plan, log);

    expect(lines[1]?.fields).toEqual({
      accountId: MEMBER,
      region: "eu-west-1",
      outcome: "retry",
      reason: "throttled",
      detail: "Rate exceeded",
      step: undefined,
      attempt: 2,
      origin: "retry",
      messageId: "m1",
      correlationId: "evt-1",
    });
    expect(lines[5]?.fields).toMatchObject({ messageId: "m3", correlationId: "evt-3" });
  });

  it("counts one outcome per final cell and per note, with its reason and attempt (a note without one counts 0)", () => {
    const { log } = logger();
    const { pipeline, outcome } = metrics();

    report(plan, log, pipeline);

    expect(outcome.mock.calls).toEqual([
      ["invited", undefined, 2],
      ["retry", "throttled", 2],
      ["dead-letter", "already-member-of-another-administrator", 2],
      ["enabled", undefined, 2],
      ["dead-letter", "invalid-message", 0],
      ["skipped", "account-not-created", 0],
    ]);
  });

  it("never writes an e-mail: not the cells' e-mails, not a raw body's", () => {
    const { log, lines } = logger();

    report(plan, log);

    expect(lines).toHaveLength(6);
    for (const line of lines) expect(JSON.stringify(line)).not.toMatch(/@example\.com/);
  });

  it("throws on an undecided cell, naming its account and region", () => {
    const { log } = logger();
    const undecided: Plan = {
      cells: [cell("us-east-1", { outcome: "invited" }), cell("eu-west-1", undefined)],
      notes: [],
    };

    expect(() => report(undecided, log)).toThrow(`undecided cell ${MEMBER}/eu-west-1: every stage ran?`);
  });
});
