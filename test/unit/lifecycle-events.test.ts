import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { isTamperSignal, readLifecycleEvent } from "#shared/lifecycle";
import { parseMessage } from "#shared/message";
import { admit } from "#shared/stages/admit";

/** The samples of events/lifecycle/ (its README says where each shape comes from). */
const sample = (name: string): Record<string, unknown> =>
  JSON.parse(readFileSync(`events/lifecycle/${name}.json`, "utf8")) as Record<string, unknown>;
const parse = (event: unknown) => parseMessage(JSON.stringify(event));
const withDetail = (
  event: Record<string, unknown>,
  detail: Record<string, unknown>,
): Record<string, unknown> => ({
  ...event,
  detail: { ...(event.detail as object), ...detail },
});

describe("lifecycle events", () => {
  it.each([
    ["organizations-accept-handshake.cloudtrail-api-call", "555555555555", "AcceptHandshake"],
    ["organizations-account-joined-organization.service-event", "666666666666", "AccountJoinedOrganization"],
  ])("onboards the joining account of %s", (name, accountId, trigger) => {
    const parsed = parse(sample(name));

    expect(parsed).toEqual({
      kind: "request",
      request: expect.objectContaining({ version: 1, accountId, origin: "event", trigger, attempt: 0 }),
    });
    expect(parsed.kind === "request" && parsed.request.action).toBeUndefined();
  });

  it.each([
    ["organizations-close-account-result.service-event", "888888888888"],
    ["organizations-remove-account-from-organization.cloudtrail-api-call", "999999999999"],
    ["organizations-account-departed-organization.service-event", "777777777777"],
  ])("offboards the departing account of %s", (name, accountId) => {
    const event = sample(name);

    const parsed = parse(event);

    expect(parsed).toEqual({
      kind: "request",
      request: expect.objectContaining({ accountId, action: "offboard", correlationId: event.id }),
    });
  });

  it("re-checks every account a tamper signal names, in one message", () => {
    const parsed = parse(sample("guardduty-delete-members.cloudtrail-api-call"));

    expect(parsed.kind).toBe("requests");
    const requests = parsed.kind === "requests" ? parsed.requests : [];
    expect(requests.map((request) => request.accountId)).toEqual(["222222222222", "333333333333"]);
    expect(requests.every((request) => request.action === undefined && isTamperSignal(request.trigger))).toBe(
      true,
    );
  });

  it.each([
    ["guardduty-disassociate-members.cloudtrail-api-call", "222222222222"],
    ["guardduty-stop-monitoring-members.cloudtrail-api-call", "333333333333"],
    ["guardduty-disassociate-from-administrator-account.cloudtrail-api-call", "222222222222"],
  ])("re-checks the account of %s", (name, accountId) => {
    const parsed = parse(sample(name));

    expect(parsed.kind === "request" && parsed.request).toMatchObject({ accountId, origin: "event" });
    expect(parsed.kind === "request" && isTamperSignal(parsed.request.trigger)).toBe(true);
  });

  it("reads the caller of LeaveOrganization and serviceEventDetails sent as a JSON string", () => {
    const leave = readLifecycleEvent({
      eventName: "LeaveOrganization",
      userIdentity: { accountId: "121212121212" },
    });
    const closed = readLifecycleEvent({
      eventName: "CloseAccountResult",
      serviceEventDetails: JSON.stringify({
        closeAccountStatus: { accountId: "131313131313", state: "SUCCEEDED" },
      }),
    });

    expect(leave).toEqual({ kind: "departure", accountIds: ["121212121212"] });
    expect(closed).toEqual({ kind: "departure", accountIds: ["131313131313"] });
  });

  it.each([
    ["a failed call", { errorCode: "AccessDenied" }, "the call failed (AccessDenied)"],
    [
      "a handshake that is not an invitation",
      { responseElements: { handshake: { action: "ENABLE_ALL_FEATURES" } } },
      "a ENABLE_ALL_FEATURES handshake joins no account",
    ],
    [
      "a caller that is not an account id",
      { userIdentity: { accountId: "x" }, recipientAccountId: "{not json" },
      "no account id found in the AcceptHandshake event",
    ],
  ])("asks for nothing on %s", (_, detail, why) => {
    const event = withDetail(sample("organizations-accept-handshake.cloudtrail-api-call"), detail);

    expect(parse(event)).toEqual({
      kind: "ignored",
      lifecycle: "join",
      detail: why,
      correlationId: event.id,
    });
  });

  it("asks for nothing on an account closure that did not succeed", () => {
    const event = withDetail(sample("organizations-close-account-result.service-event"), {
      serviceEventDetails: { closeAccountStatus: { accountId: "888888888888", state: "FAILED" } },
    });

    expect(parse(event)).toMatchObject({ kind: "ignored", detail: "the account closure is in state FAILED" });
  });

  it("leaves other events to the account-created contract", () => {
    expect(readLifecycleEvent({ eventName: "CreateAccountResult" })).toBeUndefined();
    expect(readLifecycleEvent({ eventName: 42 })).toBeUndefined();
    expect(isTamperSignal(undefined)).toBe(false);
  });

  it("keeps offboard requests and their trigger through a hand-written request", () => {
    const parsed = parseMessage(
      JSON.stringify({ version: 1, accountId: "222222222222", action: "offboard", trigger: "manual" }),
    );

    expect(parsed.kind === "request" && parsed.request).toMatchObject({
      action: "offboard",
      trigger: "manual",
    });
  });
});

describe("admitting lifecycle events", () => {
  const admission = { regions: ["us-east-1", "eu-west-1"], administratorAccountId: "123456789012" };
  const record = (name: string) => ({ messageId: name, body: JSON.stringify(sample(name)) });

  it("gives a tamper signal a cell per account and region, in one message", () => {
    const plan = admit([record("guardduty-delete-members.cloudtrail-api-call")], admission);

    expect(plan.cells.map((cell) => `${cell.request.accountId}/${cell.region}`)).toEqual([
      "222222222222/us-east-1",
      "222222222222/eu-west-1",
      "333333333333/us-east-1",
      "333333333333/eu-west-1",
    ]);
    expect(plan.notes).toEqual([]);
  });

  it("notes an event that asks for nothing as skipped", () => {
    const event = withDetail(sample("organizations-accept-handshake.cloudtrail-api-call"), {
      errorCode: "HandshakeConstraintViolationException",
    });

    const plan = admit([{ messageId: "m", body: JSON.stringify(event) }], admission);

    expect(plan.cells).toEqual([]);
    expect(plan.notes).toEqual([
      expect.objectContaining({
        outcome: "skipped",
        reason: "lifecycle-event-ignored",
        correlationId: event.id,
      }),
    ]);
  });
});
