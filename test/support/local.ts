import { run } from "../../cli/main.ts";
import { accountCreatedEvent, publish } from "../../local/inputs.ts";
import { type LocalStack, type LocalStackOptions, startLocalStack } from "../../local/local-stack.ts";

/**
 * A local stack for a test: a short batching window, a seeded organization that holds `accounts`, and
 * serverless.yml's settings otherwise. The caller stops it.
 */
export function startTestStack(
  accounts: readonly string[],
  options: Partial<LocalStackOptions> & { readonly seed?: number } = {},
): Promise<LocalStack> {
  const { seed = 11, regions = ["us-east-1", "eu-west-1"], ...rest } = options;
  return startLocalStack({
    regions,
    eventSourceSettings: { maximumBatchingWindowSeconds: 1 },
    ...rest,
    sandbox: { seed, accountCount: 3, accounts: accounts.map((id) => ({ id })), ...rest.sandbox },
  });
}

/** Publishes an account-created event per account and waits until the pipeline has drained. */
export async function onboardAccounts(stack: LocalStack, ids: readonly string[]): Promise<void> {
  const queue = stack.sqs.urls.OnboardingQueue as string;
  await publish(
    stack.sqs.client,
    queue,
    ids.map((id) => accountCreatedEvent(id)),
  );
  await stack.drained(60_000);
}

/** What `gd-onboard coverage --json` prints, as far as the tests read it. */
export interface CoverageJson {
  readonly coverage: number;
  readonly desired: number;
  readonly byVerdict: Record<string, number>;
  readonly byRegion: Record<string, Record<string, number>>;
  readonly pairs: { accountId: string; region: string; verdict: string; detail: string }[];
}

/** `gd-onboard coverage --local --json` as an operator runs it, with the stack's operator credentials. */
export async function operatorCoverage(stack: LocalStack): Promise<CoverageJson> {
  let stdout = "";
  let stderr = "";
  const code = await run(["coverage", "--local", "--json"], {
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text) },
    env: stack.env,
  });
  if (code !== 0) throw new Error(`gd-onboard coverage exited ${code}: ${stderr}`);
  return JSON.parse(stdout) as CoverageJson;
}
