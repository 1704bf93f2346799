/** SQS caps a message's `DelaySeconds` at 900 (15 minutes): one retry hop can wait no longer. */
export const MAX_DELAY_SECONDS = 900;

/**
 * Delay before retry number `attempt + 1`: exponential from `baseSeconds`, capped at 900 s, with
 * "equal jitter" (half fixed, half random) so that a throttled burst does not come back as one burst,
 * yet never retries at once.
 */
export function retryDelaySeconds(
  attempt: number,
  baseSeconds: number,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(MAX_DELAY_SECONDS, baseSeconds * 2 ** attempt);
  return Math.min(MAX_DELAY_SECONDS, Math.round(ceiling / 2 + (random() * ceiling) / 2));
}
