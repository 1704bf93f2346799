import { describeError } from "#shared/privacy";

/**
 * The CLI's errors: each says what happened and what to do. `explain` turns the AWS SDK's errors for
 * the usual mistakes (no credentials, a stage that is not deployed, a queue that does not exist, a
 * local stack that is not running) into such a sentence.
 */

/** A failure the operator can fix; printed without a stack trace. Exit code 1. */
export class CliError extends Error {
  readonly exitCode: number = 1;

  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The command line itself is wrong (unknown option, malformed account id…). Exit code 2. */
export class UsageError extends CliError {
  override readonly exitCode = 2;
}

/** What the CLI was doing when an AWS call failed, to name it in the explanation. */
export interface ErrorContext {
  readonly stage?: string;
  readonly region?: string;
  readonly queueUrl?: string;
  readonly local?: boolean;
}

interface AwsErrorLike {
  readonly name?: string;
  readonly message?: string;
  readonly code?: string;
  readonly Code?: string;
}

/** A CliError for any error: ours pass through, the SDK's usual ones are explained, the rest described. */
export function explain(error: unknown, context: ErrorContext = {}): CliError {
  if (error instanceof CliError) return error;
  const { name = "", message = "", code = "", Code = "" } = (error ?? {}) as AwsErrorLike;
  const cause = { cause: error };
  if (name === "CredentialsProviderError") {
    return new CliError(
      "no AWS credentials: set AWS_PROFILE (after `aws sso login` if it is an SSO profile) or " +
        "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY; for the local stack use --local",
      cause,
    );
  }
  if (
    ["ExpiredToken", "ExpiredTokenException", "InvalidClientTokenId", "UnrecognizedClientException"].includes(
      name,
    )
  ) {
    return new CliError(
      `AWS rejected the credentials (${name}): refresh them (e.g. \`aws sso login\`) and try again`,
      cause,
    );
  }
  if (name === "ValidationError" && /does not exist/i.test(message)) {
    return new CliError(
      `stage "${context.stage}" is not deployed in ${context.region}: no stack ` +
        `${stackName(context.stage ?? "")} there. Check --stage and --region (and the account your credentials are for)`,
      cause,
    );
  }
  if (name === "QueueDoesNotExist" || Code === "AWS.SimpleQueueService.NonExistentQueue") {
    return new CliError(
      `queue ${context.queueUrl ?? "(unknown)"} does not exist: check the stage (or the URL you passed)` +
        (context.local ? "; the local stack's queues exist only while `npm run sandbox` runs" : ""),
      cause,
    );
  }
  const network = /^(ECONNREFUSED|ECONNRESET|ENOTFOUND|EAI_AGAIN|ETIMEDOUT)$/;
  if (network.test(code) || /ECONNREFUSED|ENOTFOUND|EAI_AGAIN/.test(message)) {
    return new CliError(
      context.local
        ? "cannot reach the local stack: start it with `npm run sandbox` and paste its exports into this shell"
        : `cannot reach AWS (${message}): check the network, or the endpoint variables AWS_ENDPOINT_URL_*`,
      cause,
    );
  }
  if (/AccessDenied|not authorized/i.test(name) || /not authorized/i.test(message)) {
    return new CliError(
      `access denied: ${describeError(error)}. Use a role of the GuardDuty administrator account that may do this`,
      cause,
    );
  }
  return new CliError(describeError(error), cause);
}

/** The CloudFormation stack of a stage (serverless.yml `service` + stage). */
export function stackName(stage: string): string {
  return `guardduty-onboarding-${stage}`;
}
