/**
 * Which operations the sandbox implements, found by asking it rather than by a list kept by hand: each
 * operation of each model is sent once, as its protocol addresses it, to a throw-away sandbox, and counts
 * when the sandbox resolves it to that name. The conformance tests (AWS SDK for JavaScript, boto3) both
 * drive exactly this set.
 */
import { type Exchange, startSandbox } from "../../sandbox/server.ts";
import type { Model } from "./aws-model.ts";

const PROBE_KEY = "AKIDPROBEADMIN";
const PROBE_REGION = "us-west-2";

/** `service:Operation` keys, sorted; `misrouted` lists operations the sandbox resolved to another name. */
export interface Implemented {
  readonly implemented: string[];
  readonly misrouted: string[];
}

/** Probes a fresh sandbox (seeded with `seed`) with every operation of `models` (by service name). */
export async function probeImplemented(
  models: Readonly<Record<string, Model>>,
  seed = 1,
): Promise<Implemented> {
  const seen: Exchange[] = [];
  const probe = await startSandbox({ seed, onExchange: (exchange) => seen.push(exchange) });
  probe.registerCredentials(PROBE_KEY, probe.administratorAccountId);
  const signed = (service: string) => ({
    authorization: `AWS4-HMAC-SHA256 Credential=${PROBE_KEY}/20260101/${PROBE_REGION}/${service}/aws4_request, SignedHeaders=host, Signature=0`,
  });
  const implemented: string[] = [];
  const misrouted: string[] = [];
  try {
    for (const [service, model] of Object.entries(models)) {
      for (const [operation, { http }] of Object.entries(model.operations)) {
        const before = seen.length;
        if (model.metadata.protocol === "rest-json") {
          const path = http.requestUri.replace(/\{[^}]+\}/g, "probe");
          const body = http.method === "GET" || http.method === "HEAD" ? undefined : "{}";
          await fetch(`${probe.url}${path}`, { method: http.method, headers: signed(service), body });
        } else if (model.metadata.protocol === "json") {
          const target = `${model.metadata.targetPrefix}.${operation}`;
          const headers = {
            ...signed(service),
            "x-amz-target": target,
            "content-type": "application/x-amz-json-1.1",
          };
          await fetch(probe.url, { method: "POST", headers, body: "{}" });
        } else {
          const headers = { ...signed(service), "content-type": "application/x-www-form-urlencoded" };
          const body = new URLSearchParams({
            Action: operation,
            Version: model.metadata.apiVersion,
          }).toString();
          await fetch(probe.url, { method: "POST", headers, body });
        }
        await new Promise((resolve) => setImmediate(resolve));
        const resolved = seen.slice(before).find((exchange) => exchange.operation !== undefined)?.operation;
        if (resolved === operation) implemented.push(`${service}:${operation}`);
        else if (resolved !== undefined) misrouted.push(`${service}:${operation} resolved to ${resolved}`);
      }
    }
  } finally {
    await probe.close();
  }
  return { implemented: implemented.sort(), misrouted };
}
