/** Anything shaped like an e-mail address. Account e-mails are PII and never reach a log line or a DLQ body. */
const EMAIL = /[^\s@"'<>(),;:]+@[^\s@"'<>(),;:]+\.[^\s@"'<>(),;:]+/g;

/** Replaces e-mail addresses in a text that came from outside (service messages, result texts). */
export function redact(text: string): string {
  return text.replace(EMAIL, "<email>");
}

/** `Name: message` of an error, redacted and bounded: safe for logs and dead-letter bodies. */
export function describeError(error: unknown): string {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return redact(text).slice(0, 1000);
}
