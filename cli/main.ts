import { backfillCommand } from "./backfill.ts";
import { type Command, parse } from "./command.ts";
import { coverageCommand } from "./coverage.ts";
import { dlqList } from "./dlq-list.ts";
import { dlqReplay } from "./dlq-replay.ts";
import { explain, UsageError } from "./errors.ts";
import { type Output, Printer } from "./output.ts";
import { statusCommand } from "./status.ts";
import { type ClientFactory, createCliClients, type Env } from "./target.ts";

/**
 * `gd-onboard`: the operator's tool for the pipeline — the DeadLetterQueue (list, replay), backfill,
 * member status, coverage. `run` is the whole CLI with its outside world handed in (streams, environment, clock,
 * AWS clients), so tests run it in-process; `entry.ts` hands it the real process.
 */

export interface Io {
  readonly stdout: Output;
  readonly stderr: Output;
  /** Endpoints, credentials, region and the local stack's variables are read from here only. */
  readonly env: Env;
  readonly now?: () => Date;
  /** Builds the AWS clients (default: the SDK's, from `env`); tests may bring their own. */
  readonly clients?: ClientFactory;
}

const COMMANDS: readonly Command[] = [dlqList, dlqReplay, backfillCommand, statusCommand, coverageCommand];

const HELP = `Usage: gd-onboard <command> [options]

Operates the GuardDuty onboarding pipeline of a deployed stage or of the local stack.

Commands:
${COMMANDS.map((command) => `  ${command.name.padEnd(12)} ${command.summary}`).join("\n")}

Every command takes a target: --stage STAGE [--region REGION] for a deployed stack, --local for the
local stack (\`npm run sandbox\`), or explicit queue URLs. \`gd-onboard <command> --help\` tells more.

An account is in the DLQ? \`gd-onboard dlq list --account ID\` says why; fix the cause (README,
"Operations"), then \`gd-onboard dlq replay --account ID\` and \`gd-onboard status ID\`.
`;

/** Runs one command line; resolves to the process exit code (0 done, 1 failed, 2 usage error). */
export async function run(argv: readonly string[], io: Io): Promise<number> {
  const print = new Printer(io.stdout, io.stderr);
  const [first, second] = argv;
  if (first === undefined || first === "help" || first === "--help" || first === "-h") {
    print.line(HELP.trimEnd());
    return first === undefined ? 2 : 0;
  }
  const twoWords = COMMANDS.find((command) => command.name === `${first} ${second}`);
  const command = twoWords ?? COMMANDS.find((command) => command.name === first);
  try {
    if (!command) {
      const group = COMMANDS.filter((candidate) => candidate.name.startsWith(`${first} `));
      if (group.length > 0 && (second === undefined || second === "--help" || second === "-h")) {
        print.line(
          `Usage: gd-onboard ${first} <${group.map((c) => c.name.split(" ")[1]).join("|")}> [options]\n`,
        );
        for (const candidate of group) print.line(`  ${candidate.name.padEnd(12)} ${candidate.summary}`);
        return second === undefined ? 2 : 0;
      }
      throw new UsageError(
        `unknown command "${[first, second].filter(Boolean).join(" ")}" (see gd-onboard --help)`,
      );
    }
    const { values, positionals } = parse(command, argv.slice(command.name.split(" ").length));
    if (values.help) {
      print.line(command.help.trimEnd());
      return 0;
    }
    return await command.run(values, positionals, {
      print,
      env: io.env,
      now: io.now ?? (() => new Date()),
      clientsFor: io.clients ?? createCliClients,
    });
  } catch (error) {
    const failure = explain(error);
    print.warn(`gd-onboard: ${failure.message}`);
    return failure.exitCode;
  }
}
