import { type DeadLetterFilter, type DeadLetterView, matchesFilter } from "#shared/dead-letters";
import { type Command, noPositionals, TARGET_HELP, TARGET_OPTIONS } from "./command.ts";
import { openDeadLetterQueue, readAll } from "./dead-letter-queue.ts";
import { countBy, FILTER_HELP, readFilter } from "./dlq-selection.ts";
import { age, type Printer, truncate } from "./output.ts";
import type { Target } from "./target.ts";

/** `dlq list`: what is on the DeadLetterQueue and why, without consuming it. */

export const dlqList: Command = {
  name: "dlq list",
  summary: "every DLQ message with its reason, account, region, attempts and age (nothing is consumed)",
  help: `Usage: gd-onboard dlq list [--reason R] [--account ID] [--json] [target]

Shows every message on the DeadLetterQueue: why it is there, the account and region, the attempts
spent, its age, and who put it there — the pipeline (a permanent failure, with a reason code and the
request to replay) or SQS itself (the original body, after the function crashed or timed out on it at
every receive). Messages are only read: they stay on the queue, visible again as soon as the list ends.

Options:
${FILTER_HELP}
  --json            a JSON array instead of the table

${TARGET_HELP}
`,
  options: {
    ...TARGET_OPTIONS,
    reason: { type: "string" },
    account: { type: "string" },
    json: { type: "boolean" },
  },
  async run(values, positionals, context) {
    noPositionals(this, positionals);
    const filter = readFilter(values, context.print);
    const { target, dlq } = await openDeadLetterQueue(values, context);
    const views = (await readAll(dlq, target)).filter((view) => matchesFilter(view, filter));
    const now = context.now();
    if (values.json) {
      context.print.json(views.map((view) => toJson(view, now)));
      return 0;
    }
    printList(context.print, target, dlq.url, views, filter, now);
    return 0;
  },
};

function printList(
  print: Printer,
  target: Target,
  url: string,
  views: readonly DeadLetterView[],
  filter: DeadLetterFilter,
  now: Date,
): void {
  const selection = [
    filter.reason && `reason ${filter.reason}`,
    filter.accountId && `account ${filter.accountId}`,
  ]
    .filter(Boolean)
    .join(", ");
  print.line(`DeadLetterQueue of ${target.label}${selection ? ` (${selection})` : ""}: ${url}`);
  print.table(
    ["MESSAGE", "WRITTEN BY", "REASON", "ACCOUNT", "REGION", "ATTEMPTS", "AGE", "DETAIL"],
    views.map((view) => [
      view.messageId.slice(0, 8),
      view.source === "pipeline" ? "pipeline" : "SQS redrive",
      view.reason,
      view.accountId ?? "-",
      view.region ?? "-",
      view.source === "pipeline" ? String(view.attempts ?? "-") : `${view.receiveCount ?? "?"} receives`,
      age(view.sentAt, now),
      truncate(
        "notReplayable" in view.replay ? `${view.detail} [${view.replay.notReplayable}]` : view.detail,
        90,
      ),
    ]),
  );
  const redriven = views.filter((view) => view.source === "sqs-redrive").length;
  print.line();
  print.line(
    `${views.length} message(s): ${views.length - redriven} written by the pipeline, ${redriven} redriven by SQS` +
      (views.length > 0 ? `; by reason: ${countBy(views, (view) => view.reason)}` : ""),
  );
  if (views.length > 0) {
    print.line(
      'Fix the cause (README, "Reason codes"), then: gd-onboard dlq replay --reason R | --account ID [--dry-run]',
    );
  }
}

function toJson(view: DeadLetterView, now: Date) {
  const { replay, ...rest } = view;
  return {
    ...rest,
    ageSeconds: view.sentAt ? Math.round((now.getTime() - Date.parse(view.sentAt)) / 1000) : undefined,
    replayable: "body" in replay,
    notReplayable: "notReplayable" in replay ? replay.notReplayable : undefined,
    replayRequest: "body" in replay ? (JSON.parse(replay.body) as unknown) : undefined,
  };
}
