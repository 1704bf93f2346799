/**
 * The project's small error hierarchy. Whether a failure is retried or dead-lettered is a type,
 * not a string check scattered around: callers route on `instanceof`.
 */

/** Base class: every error the project raises on purpose. */
export class OnboardingError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A configuration value is missing or invalid. Thrown once, at cold start, naming the variable. */
export class ConfigError extends OnboardingError {
  constructor(
    readonly variable: string,
    problem: string,
  ) {
    super(`${variable}: ${problem}`);
  }
}

/**
 * An SQS message body that is not one of the accepted contracts. Permanent: the body goes to the
 * dead-letter queue verbatim with reason `invalid-message`; it is never retried.
 */
export class InvalidMessageError extends OnboardingError {
  constructor(
    message: string,
    /** The body to keep in the dead letter, when it is not the message itself (a replayed dead letter's `raw`). */
    readonly raw?: string,
  ) {
    super(message);
  }
}
