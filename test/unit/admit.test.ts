import { describe, expect, it } from "vitest";
import type { SourceRecord } from "#shared/plan";
import { type Admission, admit } from "#shared/stages/admit";
import { onboardingRequest, organizationsEvent } from "../support/events.ts";

const ADMIN = "111111111111";
const MEMBER = "222222222222";
const admission: Admission = { regions: ["us-east-1", "eu-west-1"], administratorAccountId: ADMIN };
const record = (body: unknown, messageId = "m1"): SourceRecord => ({
  messageId,
  body: typeof body === "string" ? body : JSON.stringify(body),
});

describe("admit", () => {
  it("makes a cell per configured region, in the stage's order, for a request naming no regions", () => {
    const plan = admit([record(onboardingRequest(MEMBER, { correlationId: "evt-1" }))], admission);

    expect(plan.notes).toEqual([]);
    expect(plan.cells.map((cell) => [cell.messageId, cell.request.accountId, cell.region])).toEqual([
      ["m1", MEMBER, "us-east-1"],
      ["m1", MEMBER, "eu-west-1"],
    ]);
    expect(plan.cells[0]?.request).toMatchObject({ correlationId: "evt-1", attempt: 0, origin: "manual" });
    expect(plan.cells.every((cell) => cell.outcome === undefined && cell.email === undefined)).toBe(true);
  });

  it("makes the cells of an account-created event, carrying its id and time", () => {
    const plan = admit([record(organizationsEvent(MEMBER, { id: "evt-9" }))], admission);

    expect(plan.cells).toHaveLength(2);
    expect(plan.cells[0]?.request).toMatchObject({
      accountId: MEMBER,
      origin: "event",
      correlationId: "evt-9",
      requestedAt: "2026-11-26T05:00:00Z",
    });
  });

  it("keeps a body that is not JSON verbatim in a dead-letter note and makes no cell for it", () => {
    const plan = admit([record("{not json", "bad")], admission);

    expect(plan.cells).toEqual([]);
    expect(plan.notes).toEqual([
      {
        messageId: "bad",
        outcome: "dead-letter",
        reason: "invalid-message",
        detail: "body is not JSON",
        raw: "{not json",
      },
    ]);
  });

  it("keeps the original body of a moved-back invalid-message dead letter, not the dead letter itself", () => {
    const letter = { reason: "invalid-message", detail: "x", at: "2026-11-26T06:00:00Z", raw: "{oops" };

    const plan = admit([record(letter)], admission);

    expect(plan.notes).toEqual([expect.objectContaining({ reason: "invalid-message", raw: "{oops" })]);
  });

  it("notes a FAILED account creation as skipped account-not-created with the event id", () => {
    const plan = admit([record(organizationsEvent(undefined, { state: "FAILED", id: "evt-2" }))], admission);

    expect(plan.cells).toEqual([]);
    expect(plan.notes).toEqual([
      {
        messageId: "m1",
        outcome: "skipped",
        reason: "account-not-created",
        detail: "the event reports an account creation in state FAILED",
        correlationId: "evt-2",
      },
    ]);
  });

  it("notes the administrator account as skipped administrator-account and makes no cell for it", () => {
    const plan = admit([record(onboardingRequest(ADMIN, { attempt: 2, correlationId: "c" }))], admission);

    expect(plan.cells).toEqual([]);
    expect(plan.notes).toEqual([
      {
        messageId: "m1",
        outcome: "skipped",
        reason: "administrator-account",
        detail: "the administrator account is not its own member",
        accountId: ADMIN,
        attempt: 2,
        correlationId: "c",
      },
    ]);
  });

  it("narrows a request to the stage's regions and notes the ones it ignores", () => {
    const plan = admit(
      [record(onboardingRequest(MEMBER, { regions: ["ap-south-1", "eu-west-1", "ca-central-1"] }))],
      admission,
    );

    expect(plan.cells.map((cell) => cell.region)).toEqual(["eu-west-1"]);
    expect(plan.notes).toEqual([
      expect.objectContaining({
        messageId: "m1",
        outcome: "skipped",
        reason: "region-not-configured",
        detail: "regions this stage does not manage: ap-south-1, ca-central-1",
        accountId: MEMBER,
      }),
    ]);
  });

  it("makes no cell, only the note, for a request naming none of the stage's regions", () => {
    const plan = admit([record(onboardingRequest(MEMBER, { regions: ["ap-south-1"] }))], admission);

    expect(plan.cells).toEqual([]);
    expect(plan.notes.map((note) => note.reason)).toEqual(["region-not-configured"]);
  });

  it("refuses, when accepting only, a request that does not resume at acceptance, keeping its body", () => {
    const body = JSON.stringify(onboardingRequest(MEMBER));

    const plan = admit([record(body)], { ...admission, acceptOnly: true });

    expect(plan.cells).toEqual([]);
    expect(plan.notes).toEqual([
      expect.objectContaining({
        outcome: "dead-letter",
        reason: "invalid-message",
        detail: "not a request to accept an invitation",
        accountId: MEMBER,
        raw: body,
      }),
    ]);
  });

  it("refuses, when accepting only, an account-created event, keeping the event verbatim", () => {
    const body = JSON.stringify(organizationsEvent(MEMBER));

    const plan = admit([record(body)], { ...admission, acceptOnly: true });

    expect(plan.notes).toEqual([expect.objectContaining({ reason: "invalid-message", raw: body })]);
  });

  it("admits, when accepting only, a request that resumes at acceptance, in the regions it names", () => {
    const plan = admit([record(onboardingRequest(MEMBER, { step: "accept", regions: ["eu-west-1"] }))], {
      ...admission,
      acceptOnly: true,
    });

    expect(plan.notes).toEqual([]);
    expect(plan.cells.map((cell) => [cell.region, cell.request.step])).toEqual([["eu-west-1", "accept"]]);
  });

  it("admits each record of a batch on its own: one bad body does not touch its neighbours", () => {
    const plan = admit(
      [
        record(onboardingRequest(MEMBER), "a"),
        record("garbage", "b"),
        record(onboardingRequest("333333333333", { regions: ["us-east-1"] }), "c"),
      ],
      admission,
    );

    expect(plan.cells.map((cell) => `${cell.messageId}:${cell.region}`)).toEqual([
      "a:us-east-1",
      "a:eu-west-1",
      "c:us-east-1",
    ]);
    expect(plan.notes.map((note) => note.messageId)).toEqual(["b"]);
  });
});
