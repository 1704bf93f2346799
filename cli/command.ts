import { type ParseArgsConfig, parseArgs } from "node:util";
import { ACCOUNT_ID_PATTERN } from "#shared/ids";
import { UsageError } from "./errors.ts";
import type { Printer } from "./output.ts";
import type { ClientFactory, Env } from "./target.ts";

/** What every command gets: where to write, the environment, the clock and the AWS clients' factory. */
export interface Context {
  readonly print: Printer;
  readonly env: Env;
  readonly now: () => Date;
  readonly clientsFor: ClientFactory;
}

export type Options = NonNullable<ParseArgsConfig["options"]>;

export interface Command {
  /** "dlq list", "backfill"… */
  readonly name: string;
  readonly summary: string;
  /** The whole `--help` text. */
  readonly help: string;
  readonly options: Options;
  /** Resolves to the exit code. */
  run(values: Record<string, unknown>, positionals: string[], context: Context): Promise<number>;
}

/** The options that pick the pipeline a command acts on (see `target.ts`). */
export const TARGET_OPTIONS = {
  stage: { type: "string" },
  region: { type: "string" },
  local: { type: "boolean" },
  "onboarding-queue-url": { type: "string" },
  "dead-letter-queue-url": { type: "string" },
  help: { type: "boolean", short: "h" },
} as const satisfies Options;

export const TARGET_HELP = `Target (one of):
  --stage STAGE       a deployed stage: the stack guardduty-onboarding-STAGE, whose outputs give
                      the queue URLs and the GuardDuty regions
  --region REGION     the region of that stack (default: AWS_REGION, else us-east-1)
  --local             the local stack: the variables \`npm run sandbox\` prints when they are set
                      (then also without --local, unless --stage is given), else the running
                      \`npm run sandbox\`, found by itself
  --onboarding-queue-url URL, --dead-letter-queue-url URL
                      explicit queues, over the stage's or the local stack's`;

/** Parses a command's arguments; unknown or malformed options become a usage error naming the command. */
export function parse(command: Command, args: readonly string[]) {
  try {
    return parseArgs({ args: [...args], options: command.options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError(
      `${error instanceof Error ? error.message : String(error)} (see gd-onboard ${command.name} --help)`,
    );
  }
}

/** An account id argument: exactly 12 digits (Organizations `AccountId` pattern). */
export function accountIdArgument(value: string, source: string): string {
  if (!ACCOUNT_ID_PATTERN.test(value)) {
    throw new UsageError(`${source} "${value}" is not an account id: AWS account ids are exactly 12 digits`);
  }
  return value;
}

/** A positive whole number option. */
export function countArgument(value: string, source: string): number {
  const count = Number(value);
  if (!Number.isInteger(count) || count < 1)
    throw new UsageError(`${source} "${value}" must be a whole number ≥ 1`);
  return count;
}

/** Commands that take no positional arguments say so rather than ignore one. */
export function noPositionals(command: Command, positionals: readonly string[]): void {
  if (positionals.length > 0) {
    throw new UsageError(`unexpected argument "${positionals[0]}" (see gd-onboard ${command.name} --help)`);
  }
}
