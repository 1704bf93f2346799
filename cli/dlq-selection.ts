import { reasonTable } from "#shared/classify";
import { type DeadLetterFilter, type DeadLetterView, REDRIVEN_BY_SQS } from "#shared/dead-letters";
import { accountIdArgument } from "./command.ts";
import type { Printer } from "./output.ts";

/** Which dead letters a `dlq` command acts on (`--reason`, `--account`), and how one is named in a line. */

export const FILTER_HELP = `  --reason R        only messages with this reason code (README, "Reason codes"); messages SQS
                    redrove after the function failed on them at every receive: ${REDRIVEN_BY_SQS}
  --account ID      only messages about this account (12 digits)`;

/** The filter of `--reason` and `--account`; an unknown reason is only a warning. */
export function readFilter(values: Record<string, unknown>, print: Printer): DeadLetterFilter {
  const reason = typeof values.reason === "string" ? values.reason : undefined;
  const account = typeof values.account === "string" ? values.account : undefined;
  if (reason !== undefined) {
    const known = [
      ...reasonTable()
        .filter((row) => row.verdict === "dead-letter")
        .map((row) => row.reason),
      REDRIVEN_BY_SQS,
    ];
    // Only a warning: a DLQ keeps 14 days of messages, possibly written by an older version.
    if (!known.includes(reason))
      print.warn(`warning: "${reason}" is not a reason code this version writes (${known.join(", ")})`);
  }
  return { reason, accountId: account === undefined ? undefined : accountIdArgument(account, "--account") };
}

/** One line's worth of a dead letter: message, account, region, reason. */
export function describe(view: DeadLetterView): string {
  const region = view.region ?? (view.accountId ? "all regions" : "-");
  return `${view.messageId.slice(0, 8)}  ${view.accountId ?? "-"}  ${region}  ${view.reason}`;
}

/** "a 2, b 1": how many items per key. */
export function countBy<T>(items: readonly T[], key: (item: T) => string): string {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(key(item), (counts.get(key(item)) ?? 0) + 1);
  return [...counts].map(([name, count]) => `${name} ${count}`).join(", ");
}
