import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { InvalidMessageError } from "#shared/errors";
import { parseMessage } from "#shared/message";
import { controlTowerEvent, onboardingRequest, organizationsEvent } from "../support/events.ts";

const parse = (body: unknown) => parseMessage(typeof body === "string" ? body : JSON.stringify(body));

describe("parseMessage", () => {
  it("turns an Organizations CreateAccountResult SUCCEEDED event into a request carrying the event id", () => {
    const event = organizationsEvent("222222222222", { id: "evt-1" });

    const parsed = parse(event);

    expect(parsed).toEqual({
      kind: "request",
      request: {
        version: 1,
        accountId: "222222222222",
        attempt: 0,
        origin: "event",
        requestedAt: "2026-11-26T05:00:00Z",
        correlationId: "evt-1",
      },
    });
  });

  it("accepts serviceEventDetails delivered as a JSON string", () => {
    const parsed = parse(organizationsEvent("333333333333", { stringDetails: true }));

    expect(parsed.kind === "request" && parsed.request.accountId).toBe("333333333333");
  });

  it("turns a Control Tower CreateManagedAccount SUCCEEDED event into a request", () => {
    const parsed = parse(controlTowerEvent("444444444444"));

    expect(parsed.kind === "request" && parsed.request).toMatchObject({
      accountId: "444444444444",
      origin: "event",
    });
  });

  it.each([
    ["Organizations FAILED", organizationsEvent(undefined, { state: "FAILED", id: "evt-f" })],
    [
      "Organizations FAILED as a string",
      organizationsEvent(undefined, { state: "FAILED", stringDetails: true, id: "evt-f" }),
    ],
    ["Control Tower FAILED", controlTowerEvent("444444444444", { state: "FAILED", id: "evt-f" })],
  ])("reports %s as an account that was not created", (_, event) => {
    expect(parse(event)).toEqual({ kind: "not-created", state: "FAILED", correlationId: "evt-f" });
  });

  it("parses every sample event shipped in events/", () => {
    const kinds = [
      "organizations-create-account-succeeded",
      "organizations-create-account-string-details",
    ].map((name) => parse(readFileSync(`events/${name}.json`, "utf8")).kind);

    expect(kinds).toEqual(["request", "request"]);
  });

  it("fills the defaults of a minimal hand-written request", () => {
    expect(parse({ version: 1, accountId: "555555555555" })).toEqual({
      kind: "request",
      request: { version: 1, accountId: "555555555555", attempt: 0, origin: "manual" },
    });
  });

  it("keeps the regions, attempt and last error of a retry request", () => {
    const retry = onboardingRequest("555555555555", {
      regions: ["eu-west-1"],
      attempt: 3,
      origin: "retry",
      lastError: { reason: "throttled", detail: "slow down", region: "eu-west-1" },
    });

    expect(parse(retry)).toEqual({ kind: "request", request: retry });
  });

  it("replays a dead letter moved back verbatim (StartMessageMoveTask) as its request, fresh", () => {
    const request: Record<string, unknown> = onboardingRequest("555555555555", {
      regions: ["eu-west-1"],
      attempt: 7,
      origin: "retry",
      step: "accept",
      correlationId: "evt-1",
      lastError: { reason: "throttled", detail: "x" },
    });
    const deadLetter = { reason: "retries-exhausted", detail: "…", at: "2026-11-26T06:00:00Z", request };

    const { lastError: _lastError, ...kept } = request;
    expect(parse(deadLetter)).toEqual({
      kind: "request",
      request: { ...kept, attempt: 0, origin: "replay" },
    });
  });

  it("keeps the original body of an invalid-message dead letter moved back, still invalid", () => {
    const deadLetter = {
      reason: "invalid-message",
      detail: "body is not JSON",
      at: "2026-11-26T06:00:00Z",
      raw: "{oops",
    };

    expect(() => parse(deadLetter)).toThrow(
      expect.objectContaining({ name: "InvalidMessageError", raw: "{oops" }),
    );
  });

  it.each([
    ["not JSON", "{not json", /not JSON/],
    ["a JSON array", "[1,2]", /not a JSON object/],
    ["a JSON string", '"hello"', /not a JSON object/],
    ["an unrelated object", { hello: "world" }, /neither an EventBridge event, a request nor a dead letter/],
    ["an unknown version", { version: 2, accountId: "555555555555" }, /unknown request version 2/],
    ["a string version", { version: "1", accountId: "555555555555" }, /unknown request version/],
    ["an 11-digit account id", { version: 1, accountId: "55555555555" }, /accountId must be 12 ASCII digits/],
    ["non-ASCII digits", { version: 1, accountId: "５５５５５５５５５５５５" }, /12 ASCII digits/],
    ["a negative attempt", { version: 1, accountId: "555555555555", attempt: -1 }, /attempt/],
    ["an unknown origin", { version: 1, accountId: "555555555555", origin: "cron" }, /origin/],
    ["a bad region", { version: 1, accountId: "555555555555", regions: ["mars-1"] }, /regions/],
    ["empty regions", { version: 1, accountId: "555555555555", regions: [] }, /regions/],
    [
      "an event from another source",
      { ...organizationsEvent("222222222222"), source: "aws.ec2" },
      /account-created/,
    ],
    ["a SUCCEEDED event without an account id", organizationsEvent(undefined), /event account id/],
    ["a SUCCEEDED event with a short account id", organizationsEvent("1234"), /event account id/],
    [
      "an event whose string details are not JSON",
      {
        ...organizationsEvent("222222222222"),
        detail: { eventName: "CreateAccountResult", serviceEventDetails: "{oops" },
      },
      /serviceEventDetails/,
    ],
  ])("rejects %s as an invalid message", (_, body, message) => {
    expect(() => parse(body)).toThrow(InvalidMessageError);
    expect(() => parse(body)).toThrow(message);
  });

  it("never echoes input values in its error (they may hold e-mail addresses)", () => {
    const body = { version: 1, accountId: "jane.doe@example.com" };

    expect(() => parse(body)).toThrow(InvalidMessageError);
    try {
      parse(body);
    } catch (error) {
      expect((error as Error).message).not.toContain("jane.doe");
    }
  });
});
