import { describe, expect, it } from "vitest";
import type { OnboardingRequest } from "#shared/message";
import {
  byMessage,
  type Cell,
  decide,
  enrich,
  type Plan,
  pairOf,
  pending,
  run,
  type Stage,
} from "#shared/plan";

const request = (accountId: string): OnboardingRequest => ({
  version: 1,
  accountId,
  attempt: 0,
  origin: "manual",
});
const cell = (messageId: string, accountId: string, region: string, fields: Partial<Cell> = {}): Cell => ({
  messageId,
  request: request(accountId),
  region,
  ...fields,
});

describe("decide", () => {
  it("decides pending cells and leaves a cell decided by an earlier stage as it was", () => {
    const earlier = cell("m1", "222222222222", "us-east-1", {
      outcome: { outcome: "skipped", reason: "account-not-active" },
    });
    const open = cell("m1", "222222222222", "eu-west-1");
    const plan: Plan = { cells: [earlier, open], notes: [] };
    const asked: string[] = [];

    const decided = decide(plan, (candidate) => {
      asked.push(candidate.region);
      return { outcome: "retry", reason: "throttled" };
    });

    expect(asked).toEqual(["eu-west-1"]);
    expect(decided.cells[0]).toBe(earlier);
    expect(decided.cells[1]).toEqual({ ...open, outcome: { outcome: "retry", reason: "throttled" } });
  });

  it("leaves a cell pending when the decision answers nothing for it", () => {
    const open = cell("m1", "222222222222", "us-east-1");

    const decided = decide({ cells: [open], notes: [] }, () => undefined);

    expect(decided.cells).toEqual([open]);
    expect(pending(decided)).toEqual([open]);
  });

  it("keeps the plan's notes", () => {
    const note = { messageId: "m0", outcome: "dead-letter", reason: "invalid-message", detail: "x" } as const;

    const decided = decide({ cells: [cell("m1", "222222222222", "us-east-1")], notes: [note] }, () => ({
      outcome: "invited",
    }));

    expect(decided.notes).toEqual([note]);
  });
});

describe("enrich", () => {
  it("adds what a stage learnt to pending cells only", () => {
    const decided = cell("m1", "222222222222", "us-east-1", { outcome: { outcome: "skipped" } });
    const open = cell("m2", "333333333333", "us-east-1");

    const enriched = enrich({ cells: [decided, open], notes: [] }, (candidate) => ({
      email: `owner+${candidate.request.accountId}@example.com`,
    }));

    expect(enriched.cells[0]).toBe(decided);
    expect(enriched.cells[1]).toEqual({ ...open, email: "owner+333333333333@example.com" });
  });
});

describe("pending", () => {
  it("answers the undecided cells that pass the filter", () => {
    const plan: Plan = {
      cells: [
        cell("m1", "222222222222", "us-east-1"),
        cell("m1", "222222222222", "eu-west-1"),
        cell("m2", "333333333333", "eu-west-1", { outcome: { outcome: "invited" } }),
      ],
      notes: [],
    };

    const open = pending(plan, (candidate) => candidate.region === "eu-west-1");

    expect(open.map(pairOf)).toEqual(["222222222222/eu-west-1"]);
  });
});

describe("byMessage", () => {
  it("groups the cells by message, in the order messages first appear, each with its cells in order", () => {
    const plan: Plan = {
      cells: [
        cell("m1", "222222222222", "us-east-1"),
        cell("m2", "333333333333", "us-east-1"),
        cell("m1", "222222222222", "eu-west-1"),
        cell("m2", "333333333333", "eu-west-1"),
        cell("m3", "444444444444", "us-east-1"),
      ],
      notes: [],
    };

    const messages = byMessage(plan);

    expect([...messages.keys()]).toEqual(["m1", "m2", "m3"]);
    expect(messages.get("m1")?.map((each) => each.region)).toEqual(["us-east-1", "eu-west-1"]);
    expect(messages.get("m2")?.map(pairOf)).toEqual(["333333333333/us-east-1", "333333333333/eu-west-1"]);
    expect(messages.get("m3")).toHaveLength(1);
  });

  it("answers no message for a plan of notes alone", () => {
    const messages = byMessage({
      cells: [],
      notes: [{ messageId: "m1", outcome: "skipped", reason: "account-not-created", detail: "FAILED" }],
    });

    expect(messages.size).toBe(0);
  });
});

describe("run", () => {
  it("runs the stages in order, each on the plan the previous one answered, with the signal", async () => {
    const seen: string[] = [];
    const signal = new AbortController().signal;
    const signals: (AbortSignal | undefined)[] = [];
    const stage =
      (name: string): Stage =>
      async (plan, given) => {
        seen.push(`${name}:${plan.notes.map((note) => note.reason).join(",")}`);
        signals.push(given);
        return {
          ...plan,
          notes: [...plan.notes, { messageId: "m", outcome: "skipped", reason: name, detail: "" }],
        };
      };

    const final = await run({ cells: [], notes: [] }, [stage("a"), stage("b"), stage("c")], signal);

    expect(seen).toEqual(["a:", "b:a", "c:a,b"]);
    expect(signals).toEqual([signal, signal, signal]);
    expect(final.notes.map((note) => note.reason)).toEqual(["a", "b", "c"]);
  });

  it("answers the plan as it is when there are no stages", async () => {
    const plan: Plan = { cells: [cell("m1", "222222222222", "us-east-1")], notes: [] };

    const final = await run(plan, []);

    expect(final).toBe(plan);
  });
});
