import type { SQSClient } from "@aws-sdk/client-sqs";
import { type DeadLetterView, matchesFilter } from "#shared/dead-letters";
import { enqueue } from "#shared/enqueue";
import { type Command, countArgument, noPositionals, TARGET_HELP, TARGET_OPTIONS } from "./command.ts";
import { type DeadLetterQueue, openDeadLetterQueue, type Received, readAll } from "./dead-letter-queue.ts";
import { countBy, describe, FILTER_HELP, readFilter } from "./dlq-selection.ts";
import { explain, UsageError } from "./errors.ts";
import { type Printer, Progress } from "./output.ts";
import type { Target } from "./target.ts";

/** `dlq replay`: dead letters back onto OnboardingQueue, deleted from the DLQ only once the send is confirmed. */

/**
 * How long a replay keeps the messages it read hidden: enough to send and delete a batch; those it
 * leaves are given back at the end, and any it could not give back reappear by themselves after this.
 */
const REPLAY_VISIBILITY_SECONDS = 120;

export const dlqReplay: Command = {
  name: "dlq replay",
  summary: "send DLQ messages back to OnboardingQueue as fresh requests",
  help: `Usage: gd-onboard dlq replay [--reason R] [--account ID] [--max N] [--dry-run] [target]
       gd-onboard dlq replay --all [--dry-run] [target]

Sends dead letters back to OnboardingQueue as fresh requests — attempt 0, origin "replay", the request's
regions, correlation id and every other field kept — and deletes each from the DLQ only once SQS has
confirmed its send. Without --reason or --account every replayable message is replayed. Replaying is
safe to repeat: an account already invited or enabled counts as a success and is never invited twice.
A message that cannot be replayed (invalid-message: its body never was a request) stays on the DLQ,
with a line saying why. Fix the cause first (README, "Reason codes"), or it comes straight back; what
reaches the DLQ while the replay runs (a replayed message failing again) is left for the next look.

Options:
${FILTER_HELP}
  --max N           replay at most N messages
  --dry-run         print what would be replayed; send and delete nothing
  --all             move every message with SQS's own redrive (StartMessageMoveTask, ≤ 500 messages/s)
                    and wait until it is done. Bodies move verbatim; the pipeline replays a dead letter
                    it wrote as its request, fresh. invalid-message ones come straight back.

${TARGET_HELP}
`,
  options: {
    ...TARGET_OPTIONS,
    reason: { type: "string" },
    account: { type: "string" },
    max: { type: "string" },
    "dry-run": { type: "boolean" },
    all: { type: "boolean" },
  },
  async run(values, positionals, context) {
    noPositionals(this, positionals);
    const filter = readFilter(values, context.print);
    const max = typeof values.max === "string" ? countArgument(values.max, "--max") : undefined;
    if (values.all && (filter.reason || filter.accountId || max !== undefined)) {
      throw new UsageError(
        "--all moves the whole queue: it takes no --reason, --account or --max (drop --all to select)",
      );
    }
    const { target, dlq, clients } = await openDeadLetterQueue(values, context);
    const onboardingQueueUrl = target.onboardingQueueUrl;
    if (!onboardingQueueUrl) {
      throw new UsageError(`no OnboardingQueue URL for ${target.label}: pass --onboarding-queue-url`);
    }
    const dryRun = Boolean(values["dry-run"]);
    if (values.all) return replayAll(context.print, target, dlq, onboardingQueueUrl, dryRun);

    const tally = { replayed: 0, notReplayable: 0, failed: 0, arrived: 0 };
    const accounts = new Set<string>();
    const print = context.print;
    // A replayed message that fails again comes back as a new dead letter while the scan goes on:
    // only what was on the DLQ when the replay began is replayed, so a replay never chases its tail.
    const startedAt = context.now().getTime();
    try {
      for await (const batch of dlq.scan(REPLAY_VISIBILITY_SECONDS)) {
        const chosen: Received[] = [];
        for (const item of batch) {
          const { view } = item;
          if (!matchesFilter(view, filter)) continue;
          if (view.sentAt && Date.parse(view.sentAt) >= startedAt) tally.arrived++;
          else if ("notReplayable" in view.replay) {
            tally.notReplayable++;
            print.line(`skipped   ${describe(view)}: not replayable: ${view.replay.notReplayable}`);
          } else if (max === undefined || tally.replayed + chosen.length < max) chosen.push(item);
        }
        if (dryRun) {
          for (const { view } of chosen) print.line(`would replay  ${describe(view)}`);
          tally.replayed += chosen.length;
        } else if (chosen.length > 0) {
          await sendBack(
            print,
            { target, dlq, sqs: clients.sqs, onboardingQueueUrl },
            chosen,
            tally,
            accounts,
          );
        }
        if (max !== undefined && tally.replayed >= max) break;
      }
    } catch (error) {
      throw explain(error, { queueUrl: dlq.url, local: target.local });
    } finally {
      await dlq.release();
    }
    print.line(
      `${dryRun ? "Would replay" : "Replayed"} ${tally.replayed} message(s) to OnboardingQueue; ` +
        `${tally.notReplayable} not replayable${dryRun ? "" : `, ${tally.failed} not sent (left on the DLQ)`}.`,
    );
    if (tally.arrived > 0) {
      print.line(
        `${tally.arrived} message(s) reached the DLQ during the replay and were left for the next look.`,
      );
    }
    if (!dryRun && accounts.size > 0) {
      print.line(`Follow them with: gd-onboard status ${[...accounts].slice(0, 10).join(" ")}`);
    }
    return tally.failed > 0 ? 1 : 0;
  },
};

/** Sends one batch of chosen messages, then deletes from the DLQ exactly those whose send SQS confirmed. */
async function sendBack(
  print: Printer,
  queues: {
    readonly target: Target;
    readonly dlq: DeadLetterQueue;
    readonly sqs: SQSClient;
    readonly onboardingQueueUrl: string;
  },
  chosen: readonly Received[],
  tally: { replayed: number; failed: number },
  accounts: Set<string>,
): Promise<void> {
  const { target, dlq, sqs, onboardingQueueUrl } = queues;
  const byId = new Map(chosen.map(({ view }) => [view.messageId, view]));
  let result: Awaited<ReturnType<typeof enqueue>>;
  try {
    result = await enqueue(
      sqs,
      onboardingQueueUrl,
      chosen.map(({ view }) => ({
        key: view.messageId,
        body: "body" in view.replay ? view.replay.body : "",
      })),
    );
  } catch (error) {
    throw explain(error, { queueUrl: onboardingQueueUrl, local: target.local });
  }
  for (const [id, detail] of result.failed) {
    tally.failed++;
    print.line(
      `failed    ${describe(byId.get(id) as DeadLetterView)}: send not confirmed (${detail}); left on the DLQ`,
    );
  }
  const undeleted = await dlq.delete(result.sent);
  for (const id of result.sent) {
    const view = byId.get(id) as DeadLetterView;
    tally.replayed++;
    if (view.accountId) accounts.add(view.accountId);
    print.line(`replayed  ${describe(view)}`);
    const detail = undeleted.get(id);
    if (detail) {
      print.warn(
        `warning: ${view.messageId} was replayed but not deleted from the DLQ (${detail}): ` +
          "it will be listed again, and replaying it again is harmless",
      );
    }
  }
}

async function replayAll(
  print: Printer,
  target: Target,
  dlq: DeadLetterQueue,
  onboardingQueueUrl: string,
  dryRun: boolean,
): Promise<number> {
  const views = await readAll(dlq, target);
  if (views.length === 0) {
    print.line("The DLQ is empty: nothing to replay.");
    return 0;
  }
  const invalid = views.filter((view) => "notReplayable" in view.replay);
  if (invalid.length > 0) {
    print.line(
      `${invalid.length} of ${views.length} message(s) cannot be replayed (${countBy(invalid, (view) => view.reason)}): ` +
        "they move too, and come back to the DLQ as they were.",
    );
  }
  if (dryRun) {
    print.line(`Would move ${views.length} message(s) to OnboardingQueue with StartMessageMoveTask.`);
    return 0;
  }
  const progress = new Progress(print.err);
  try {
    const { moved } = await dlq.moveAll(onboardingQueueUrl, (done, total) =>
      progress.update("moving", done, total || undefined),
    );
    progress.done();
    print.line(`Moved ${moved} message(s) to OnboardingQueue (bodies verbatim, by StartMessageMoveTask).`);
    return 0;
  } catch (error) {
    progress.done();
    throw explain(error, { queueUrl: dlq.url, local: target.local });
  }
}
