import { Metrics } from "@aws-lambda-powertools/metrics";
import { afterEach, beforeEach, describe, expect, it, type MockInstance, vi } from "vitest";
import { PipelineMetrics } from "#shared/metrics";

let stdout: MockInstance;
const documents = () =>
  stdout.mock.calls.map((call) => JSON.parse(String(call[0])) as Record<string, unknown> & { _aws: unknown });

beforeEach(() => {
  stdout = vi.spyOn(process.stdout, "write").mockImplementation(() => true);
});
afterEach(() => stdout.mockRestore());

describe("PipelineMetrics", () => {
  it("tallies a batch and publishes one EMF document per metric and dimension value", () => {
    const metrics = new PipelineMetrics(
      new Metrics({ namespace: "Test", serviceName: "guardduty-onboarding" }),
    );

    metrics.outcome("invited", undefined, 0);
    metrics.outcome("invited", undefined, 0);
    metrics.outcome("retry", "throttled", 2);
    metrics.outcome("dead-letter", "not-in-organization", 0);
    metrics.observe("GuardDuty.CreateMembers", 40, false);
    metrics.observe("GuardDuty.CreateMembers", 60, false);
    metrics.observe("GuardDuty.CreateMembers", 0, true);
    metrics.publish();

    const published = documents().map(({ _aws, ...fields }) => fields);
    expect(published).toEqual(
      expect.arrayContaining([
        { service: "guardduty-onboarding", outcome: "invited", Outcome: 2 },
        { service: "guardduty-onboarding", outcome: "retry", Outcome: 1 },
        { service: "guardduty-onboarding", attempt: "3", Retried: 1 },
        { service: "guardduty-onboarding", outcome: "dead-letter", Outcome: 1 },
        { service: "guardduty-onboarding", reason: "not-in-organization", DeadLettered: 1 },
        { service: "guardduty-onboarding", api: "GuardDuty.CreateMembers", ApiThrottled: 1 },
        { service: "guardduty-onboarding", api: "GuardDuty.CreateMembers", ApiLatency: [40, 60] },
      ]),
    );
    expect(published).toHaveLength(7);
  });

  it("starts over after publishing", () => {
    const metrics = new PipelineMetrics(
      new Metrics({ namespace: "Test", serviceName: "guardduty-onboarding" }),
    );
    metrics.count("DriftFound", undefined, 3);
    metrics.publish();
    stdout.mockClear();

    metrics.publish();

    expect(documents().filter((document) => "DriftFound" in document)).toEqual([]);
  });
});
