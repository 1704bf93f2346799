/**
 * The GuardDuty + Organizations sandbox: one loopback HTTP server speaking both real wire protocols, so
 * unmodified AWS clients reach it through an endpoint override alone (`AWS_ENDPOINT_URL_GUARDDUTY`,
 * `AWS_ENDPOINT_URL_ORGANIZATIONS`, the SDK's `endpoint` option or `aws --endpoint-url`).
 *
 * One port serves both services (Organizations calls carry `X-Amz-Target`, GuardDuty calls are REST paths)
 * and every region (taken from each request's SigV4 credential scope). The caller's account comes from
 * its access key id; unknown keys act as the GuardDuty administrator.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Counters } from "./counters.ts";
import { FaultInjector, type FaultOptions } from "./faults.ts";
import { GuardDutyService } from "./guardduty.ts";
import { GuardDutyState, type RelationshipStatus } from "./guardduty-state.ts";
import { readRequest, SandboxError, type SandboxRequest, sleep, type WireService } from "./http.ts";
import { isOrganizationsRequest, OrganizationsService } from "./organizations.ts";
import { type AccountInput, type OrgAccount, Organization, type ScenarioOptions } from "./scenario.ts";
import { isStsRequest, StsService } from "./sts.ts";

export interface SandboxOptions extends ScenarioOptions {
  /** TCP port; 0 (default) picks a free one. */
  readonly port?: number;
  /** Listen address; default 127.0.0.1 (loopback only). */
  readonly host?: string;
  /** Initial faults; change them later with `setFaults`. */
  readonly faults?: FaultOptions;
  /** Access key id → account id, e.g. for member accounts. Unknown keys are the administrator. */
  readonly credentials?: Readonly<Record<string, string>>;
  /** Clock in epoch ms, for timestamps and throttling buckets; default `Date.now`. */
  readonly clock?: () => number;
  /** Told of every request and its response, as they crossed the wire (conformance tests record them). */
  readonly onExchange?: (exchange: Exchange) => void;
}

/** One request and the response the sandbox wrote for it, as raw as the wire carried them. */
export interface Exchange {
  /** `guardduty`, `organizations`, `sts`, or `unknown` for a request no service recognised. */
  readonly service: string;
  /** The operation the route resolved to; undefined when none did. */
  readonly operation?: string;
  readonly request: SandboxRequest;
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/** A running sandbox. */
export interface Sandbox {
  /** `http://127.0.0.1:<port>`, the endpoint for both services. */
  readonly url: string;
  readonly port: number;
  readonly administratorAccountId: string;
  readonly managementAccountId: string;
  readonly organizationId: string;
  /** Calls, invitations and injected faults so far. */
  readonly counters: Counters;
  /** The endpoint variables to give an SDK or the AWS CLI. */
  env(): Record<
    "AWS_ENDPOINT_URL_GUARDDUTY" | "AWS_ENDPOINT_URL_ORGANIZATIONS" | "AWS_ENDPOINT_URL_STS",
    string
  >;
  /** The organization's accounts, in ListAccounts order. */
  accounts(): readonly OrgAccount[];
  /** Adds accounts at runtime: explicit ones, or `count` generated from the seed. */
  addAccounts(accounts: readonly AccountInput[] | { readonly count: number }): OrgAccount[];
  /** The account's relationship with the administrator in a region; undefined when not a member. */
  status(accountId: string, region: string): RelationshipStatus | undefined;
  /** The administrator's members: account id → region → relationship status. */
  memberStatuses(): Readonly<Record<string, Readonly<Record<string, RelationshipStatus>>>>;
  /** The account's detector id in a region; undefined where it has none. */
  detectorId(accountId: string, region: string): string | undefined;
  /** Makes requests signed with this access key act as `accountId` (e.g. a member, or an assumed role). */
  registerCredentials(accessKeyId: string, accountId: string): void;
  /** Replaces the fault configuration. */
  setFaults(faults: FaultOptions): void;
  close(): Promise<void>;
}

/** Starts a sandbox on loopback; resolves once it listens. */
export async function startSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const seed = options.seed ?? 1;
  const now = options.clock ?? Date.now;
  const organization = new Organization(options);
  const counters = new Counters();
  const faults = new FaultInjector(seed, options.faults ?? {}, now);
  const state = new GuardDutyState(
    organization,
    {
      seed,
      mode: options.mode ?? "invitation",
      regionsWithoutDetector: options.regionsWithoutDetector ?? [],
      membersOfOtherAdministrator: options.membersOfOtherAdministrator ?? [],
      maxMembers: options.maxMembers ?? 5000,
      invitationDelayMs: options.invitationDelayMs ?? 0,
    },
    faults,
    counters,
    now,
  );
  const guardDuty = new GuardDutyService(state, { missingEmail: options.missingEmail ?? "bad-request" });
  const organizations = new OrganizationsService(organization);
  const credentials = new Map(Object.entries(options.credentials ?? {}));
  const sts = new StsService(organization, options, seed, (accessKeyId, accountId) =>
    credentials.set(accessKeyId, accountId),
  );

  /** What `dispatch` resolved, for the exchange log. */
  interface Resolved {
    service?: string;
    operation?: string;
  }

  const dispatch = async (
    request: SandboxRequest,
    res: ServerResponse,
    resolved: Resolved,
  ): Promise<void> => {
    const caller = credentials.get(request.accessKeyId ?? "") ?? organization.administratorAccountId;
    if (isStsRequest(request)) {
      // STS is a means to reach member accounts, not a service under test: no faults, just counted.
      resolved.service = "sts";
      const call = sts.route(request, caller);
      if (call instanceof SandboxError) return sts.writeError(res, call);
      resolved.operation = call.operation;
      counters.recordCall(call.operation, request.region);
      try {
        return sts.writeResult(res, call.run());
      } catch (error) {
        if (!(error instanceof SandboxError)) throw error;
        return sts.writeError(res, error);
      }
    }
    const service: WireService = isOrganizationsRequest(request) ? organizations : guardDuty;
    resolved.service = service.name;
    const call = service.route(request, caller);
    if (call instanceof SandboxError) {
      service.writeError(res, call);
      return;
    }
    const { operation } = call;
    resolved.operation = operation;
    const { region } = request;
    counters.recordCall(operation, region);
    await sleep(faults.latencyMs(service.name));
    const admission = faults.admit(service.name, operation, region, caller);
    if (admission === "throttle") {
      counters.recordThrottle(operation, region);
      service.writeError(res, service.throttlingError());
      return;
    }
    if (admission === "server-error") {
      counters.recordServerError(operation, region);
      service.writeError(res, service.serverError());
      return;
    }
    let output: unknown;
    try {
      output = call.run();
    } catch (error) {
      if (!(error instanceof SandboxError)) {
        throw error;
      }
      service.writeError(res, error);
      return;
    }
    if (faults.loseResponse(operation)) {
      counters.recordServerError(operation, region);
      service.writeError(res, service.serverError());
      return;
    }
    service.writeResult(res, output);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const request = await readRequest(req);
    const resolved: Resolved = {};
    if (options.onExchange)
      record(res, (status, headers, body) =>
        options.onExchange?.({
          service: resolved.service ?? "unknown",
          operation: resolved.operation,
          request,
          status,
          headers,
          body,
        }),
      );
    await dispatch(request, res, resolved);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      // A sandbox bug: answer 500 with the cause rather than hanging the client.
      if (!res.headersSent) {
        res.writeHead(500, { "content-type": "application/json", "x-amzn-errortype": "InternalFailure" });
      }
      res.end(JSON.stringify({ __type: "InternalFailure", message: `Sandbox failure: ${String(error)}` }));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, options.host ?? "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port, address } = server.address() as AddressInfo;
  const url = `http://${address.includes(":") ? `[${address}]` : address}:${port}`;
  const administratorAccountId = organization.administratorAccountId;

  return {
    url,
    port,
    administratorAccountId,
    managementAccountId: organization.managementAccountId,
    organizationId: organization.id,
    counters,
    env: () => ({
      AWS_ENDPOINT_URL_GUARDDUTY: url,
      AWS_ENDPOINT_URL_ORGANIZATIONS: url,
      AWS_ENDPOINT_URL_STS: url,
    }),
    accounts: () => organization.list(),
    addAccounts: (accounts) =>
      "count" in accounts ? organization.addGenerated(accounts.count) : organization.add(accounts),
    status: (accountId, region) => state.member(administratorAccountId, region, accountId)?.status,
    memberStatuses: () => {
      const out: Record<string, Record<string, RelationshipStatus>> = {};
      for (const record of state.allMembers()) {
        if (record.administratorId === administratorAccountId) {
          out[record.accountId] = { ...out[record.accountId], [record.region]: record.status };
        }
      }
      return out;
    },
    detectorId: (accountId, region) => state.detector(accountId, region)?.id,
    registerCredentials: (accessKeyId, accountId) => {
      credentials.set(accessKeyId, accountId);
    },
    setFaults: (next) => faults.configure(next),
    close: async () => {
      const closed = new Promise<void>((resolve, reject) =>
        server.close((error) => (error ? reject(error) : resolve())),
      );
      // The SDK keeps connections alive; drop them so close() does not wait for their timeout.
      server.closeAllConnections();
      await closed;
    },
  };
}

/** Calls `done` with the status, headers and body once the response is written. */
function record(
  res: ServerResponse,
  done: (status: number, headers: Record<string, string>, body: string) => void,
): void {
  const chunks: Buffer[] = [];
  const end = res.end.bind(res);
  res.end = ((chunk?: unknown, ...rest: unknown[]) => {
    if (typeof chunk === "string" || chunk instanceof Uint8Array) chunks.push(Buffer.from(chunk));
    return end(chunk as never, ...(rest as [never]));
  }) as typeof res.end;
  res.once("finish", () => {
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(res.getHeaders())) headers[name.toLowerCase()] = String(value);
    done(res.statusCode, headers, Buffer.concat(chunks).toString("utf8"));
  });
}
