/**
 * Bodies that are none of the message contracts, each wrong in a different way (not JSON, truncated,
 * bad account id, unknown version, not an object, an event of the wrong shape): the pipeline must
 * dead-letter each verbatim without disturbing the records it shares a batch with.
 */
const MALFORMED = [
  '{"version":1,"accountId":',
  "account 123456789012 please",
  '{"version":1,"accountId":"12345"}',
  '{"version":2,"accountId":"123456789012"}',
  "[]",
  '{"version":"0","id":"x","detail-type":"AWS Service Event via CloudTrail","source":"aws.organizations"}',
];

/** `count` distinct malformed bodies; past the list, repeats differ by trailing spaces (still malformed). */
export function malformedBodies(count: number): string[] {
  return Array.from(
    { length: count },
    (_, index) =>
      `${MALFORMED[index % MALFORMED.length]}${index >= MALFORMED.length ? " ".repeat(index) : ""}`,
  );
}
