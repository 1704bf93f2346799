import type { OnboardingRequest } from "./message.ts";
import type { CellOutcome, Outcome } from "./outcomes.ts";

/**
 * One batch as a plan: a cell per (account, region) a message asks for, each decided once and carried
 * through the stages (`stages/`), and a note per message that names no cell (a malformed body, an event
 * about an account that was not created…). A stage is a function from plan to plan: it decides some
 * pending cells, or adds what later stages need (the account's e-mail), and leaves decided ones alone.
 */

/** An SQS record as the pipeline reads it (Lambda's `SQSRecord` fits). */
export interface SourceRecord {
  readonly messageId: string;
  readonly body: string;
}

export interface Cell {
  readonly messageId: string;
  readonly request: OnboardingRequest;
  readonly region: string;
  /** The account's e-mail, once the accounts are resolved (CreateMembers needs it; PII: never logged). */
  readonly email?: string;
  /** Known associated (`Enabled`) under this administrator: its plans are verified next. */
  readonly associated?: boolean;
  /** Set once, by the stage that decides the cell; never changed after. */
  readonly outcome?: CellOutcome;
}

/** A message that names no (account, region) to onboard, with what became of it. */
export interface Note {
  readonly messageId: string;
  readonly outcome: Extract<Outcome, "dead-letter" | "skipped">;
  readonly reason: string;
  readonly detail: string;
  readonly accountId?: string;
  readonly attempt?: number;
  readonly correlationId?: string;
  /** A body to keep verbatim in its dead letter. */
  readonly raw?: string;
}

export interface Plan {
  readonly cells: readonly Cell[];
  readonly notes: readonly Note[];
}

export type Stage = (plan: Plan, signal?: AbortSignal) => Promise<Plan>;

/** Runs stages in order. */
export async function run(plan: Plan, stages: readonly Stage[], signal?: AbortSignal): Promise<Plan> {
  let current = plan;
  for (const stage of stages) current = await stage(current, signal);
  return current;
}

/** The cells no stage has decided yet. */
export function pending(plan: Plan, filter: (cell: Cell) => boolean = () => true): Cell[] {
  return plan.cells.filter((cell) => cell.outcome === undefined && filter(cell));
}

/** The key of an (account, region): a batch may hold the same pair twice (a duplicate delivery). */
export function pairOf(cell: Pick<Cell, "request" | "region">): string {
  return `${cell.request.accountId}/${cell.region}`;
}

/**
 * Decides pending cells: `decision` answers an outcome for a cell, or undefined to leave it pending.
 * Decided cells keep their outcome: a decision is made once.
 */
export function decide(plan: Plan, decision: (cell: Cell) => CellOutcome | undefined): Plan {
  return {
    ...plan,
    cells: plan.cells.map((cell) => {
      if (cell.outcome !== undefined) return cell;
      const outcome = decision(cell);
      return outcome === undefined ? cell : { ...cell, outcome };
    }),
  };
}

/** Adds what a stage learnt to pending cells (the account's e-mail, that the member is associated). */
export function enrich(
  plan: Plan,
  update: (cell: Cell) => Partial<Pick<Cell, "email" | "associated">>,
): Plan {
  return {
    ...plan,
    cells: plan.cells.map((cell) => (cell.outcome === undefined ? { ...cell, ...update(cell) } : cell)),
  };
}

/** The messages of a plan, each with its cells (routing sends per message; deletes are per message). */
export function byMessage(plan: Plan): Map<string, Cell[]> {
  const messages = new Map<string, Cell[]>();
  for (const cell of plan.cells)
    messages.set(cell.messageId, [...(messages.get(cell.messageId) ?? []), cell]);
  return messages;
}
