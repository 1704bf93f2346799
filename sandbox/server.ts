/**
 * The GuardDuty + Organizations sandbox: one loopback HTTP server speaking both real wire protocols, so
 * unmodified AWS clients reach it through an endpoint override alone (`AWS_ENDPOINT_URL_GUARDDUTY`,
 * `AWS_ENDPOINT_URL_ORGANIZATIONS`, `AWS_ENDPOINT_URL_ACCOUNT`, the SDK's `endpoint` option or
 * `aws --endpoint-url`).
 *
 * One port serves every service (Organizations calls carry `X-Amz-Target`, STS calls are form-encoded,
 * Account Management calls are signed for `account`, GuardDuty calls are REST paths) and every region (taken from each request's SigV4 credential scope).
 * The caller is the principal its access key was issued to; every call is authorized against that
 * principal's policies as IAM would (`iam.ts`), and a key the sandbox never issued is refused.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { AccountService, isAccountRequest } from "./account.ts";
import { Counters } from "./counters.ts";
import { FaultInjector, type FaultOptions } from "./faults.ts";
import { GuardDutyService } from "./guardduty.ts";
import type { FeatureRequest, FeatureSummary } from "./guardduty-features.ts";
import {
  GuardDutyState,
  type OrganizationConfiguration,
  type RelationshipStatus,
} from "./guardduty-state.ts";
import { readRequest, SandboxError, type SandboxRequest, sleep, type WireService } from "./http.ts";
import { type AuthorizationRecord, Authorizer } from "./iam.ts";
import {
  ADMINISTRATOR_ACCESS_KEY_ID,
  Identities,
  organizationAccountAccessRole,
  type PrincipalInput,
  type RoleInput,
} from "./identity.ts";
import {
  GUARDDUTY_SERVICE_PRINCIPAL,
  isOrganizationsRequest,
  OrganizationsService,
} from "./organizations.ts";
import { type AccountInput, type OrgAccount, Organization, type ScenarioOptions } from "./scenario.ts";
import { isStsRequest, StsService } from "./sts.ts";

export interface SandboxOptions extends ScenarioOptions {
  /** TCP port; 0 (default) picks a free one. */
  readonly port?: number;
  /** Listen address; default 127.0.0.1 (loopback only). */
  readonly host?: string;
  /** Initial faults; change them later with `setFaults`. */
  readonly faults?: FaultOptions;
  /**
   * Access key id → account id: users with AdministratorAccess there (tests). Besides these and
   * `principals`, only `ADMINISTRATOR_ACCESS_KEY_ID` (the administrator account) and the keys STS
   * issues are known: any other key is rejected as AWS rejects it.
   */
  readonly credentials?: Readonly<Record<string, string>>;
  /** Access key id → a principal with its own policies (a function's role session, an operator). */
  readonly principals?: Readonly<Record<string, PrincipalInput>>;
  /**
   * The roles every organization account holds (but those in `unassumableAccounts`), built per account.
   * Default: OrganizationAccountAccessRole, as Organizations creates it, trusting the management account.
   */
  readonly memberRoles?: readonly ((account: OrgAccount) => RoleInput | undefined)[];
  /** Clock in epoch ms, for timestamps and throttling buckets; default `Date.now`. */
  readonly clock?: () => number;
  /** Told of every IAM decision (the IAM simulation test replays them against the packaged template). */
  readonly onAuthorization?: (record: AuthorizationRecord) => void;
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
    | "AWS_ENDPOINT_URL_GUARDDUTY"
    | "AWS_ENDPOINT_URL_ORGANIZATIONS"
    | "AWS_ENDPOINT_URL_STS"
    | "AWS_ENDPOINT_URL_ACCOUNT",
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
  /** The organization's GuardDuty delegated administrator in a region (EnableOrganizationAdminAccount). */
  delegatedAdministrator(region: string): string | undefined;
  /** A region's organization configuration (auto-enable of members and of each feature), as the sandbox keeps it. */
  organizationConfiguration(region: string): OrganizationConfiguration;
  /** The account's detector id in a region; undefined where it has none. */
  detectorId(accountId: string, region: string): string | undefined;
  /** The protection plans of the account's detector in a region; undefined where it has none. */
  features(accountId: string, region: string): FeatureSummary | undefined;
  /** Issues an access key to a user with AdministratorAccess in `accountId` (e.g. a member, in a test). */
  registerCredentials(accessKeyId: string, accountId: string): void;
  /** Issues an access key to a principal with the given policies (a function's role, an operator). */
  registerPrincipal(accessKeyId: string, principal: PrincipalInput): void;
  /** Creates (or replaces) a role in an account. */
  addRole(accountId: string, role: RoleInput): void;
  /** Gives an account the scenario's member roles again (e.g. an `unassumableAccounts` one, once fixed). */
  provisionRoles(accountId: string): void;
  /** The account opts in to an opt-in region (ListRegions answers ENABLED, its calls there are known). */
  enableRegion(accountId: string, region: string): void;
  /**
   * Makes organization accounts Enabled members of the administrator in `regions`, their detectors with
   * `features`, without a call (a large organization's starting state, for the bench).
   */
  seedMembers(
    accountIds: readonly string[],
    regions: readonly string[],
    features: readonly FeatureRequest[],
  ): void;
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
      delegatedAdministratorRegions:
        options.delegatedAdministratorRegions ?? (options.mode === "organization" ? "*" : []),
      autoEnableOrganizationMembers: options.autoEnableOrganizationMembers ?? "NEW",
      regionsWithoutDetector: options.regionsWithoutDetector ?? [],
      membersOfOtherAdministrator: options.membersOfOtherAdministrator ?? [],
      maxMembers: options.maxMembers ?? 5000,
      invitationDelayMs: options.invitationDelayMs ?? 0,
      emailVerificationMs: options.emailVerificationMs ?? 0,
      emailVerificationFailures: options.emailVerificationFailures ?? [],
    },
    faults,
    counters,
    now,
  );
  const guardDuty = new GuardDutyService(state, { missingEmail: options.missingEmail ?? "bad-request" });
  const organizations = new OrganizationsService(organization, (servicePrincipal) =>
    servicePrincipal === GUARDDUTY_SERVICE_PRINCIPAL ? state.delegatedAccounts() : [],
  );
  const identities = new Identities((accountId) =>
    organization.get(accountId) === undefined ? undefined : organization.id,
  );
  identities.registerAdministrator(ADMINISTRATOR_ACCESS_KEY_ID, organization.administratorAccountId);
  for (const [accessKeyId, accountId] of Object.entries(options.credentials ?? {})) {
    identities.registerAdministrator(accessKeyId, accountId);
  }
  for (const [accessKeyId, principal] of Object.entries(options.principals ?? {})) {
    identities.register(accessKeyId, principal);
  }
  const memberRoles = options.memberRoles ?? [
    organizationAccountAccessRole(organization.managementAccountId),
  ];
  const unassumable = new Set(options.unassumableAccounts ?? []);
  /** Gives accounts the scenario's roles (at start, and accounts added later). */
  const provision = (accounts: readonly OrgAccount[]): OrgAccount[] => {
    for (const account of accounts) {
      if (unassumable.has(account.id)) continue;
      for (const role of memberRoles) {
        const input = role(account);
        if (input) identities.addRole(account.id, input);
      }
    }
    return [...accounts];
  };
  provision(organization.list());
  const authorizer = new Authorizer(options.onAuthorization);
  const sts = new StsService(organization, identities, authorizer, seed, now);
  const account = new AccountService(organization);

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
    const principal = identities.principal(request.accessKeyId);
    const expired = principal?.expiresAt !== undefined && principal.expiresAt <= now();
    if (isStsRequest(request)) {
      // STS is a means to reach member accounts, not a service under test: no faults, just counted.
      resolved.service = "sts";
      const call = sts.route(request);
      if (call instanceof SandboxError) return sts.writeError(res, call);
      resolved.operation = call.operation;
      if (!principal) return sts.writeError(res, sts.invalidToken());
      if (expired) return sts.writeError(res, sts.expiredToken());
      counters.recordCall(call.operation, request.region);
      try {
        return sts.writeResult(res, await call.run(principal));
      } catch (error) {
        if (!(error instanceof SandboxError)) throw error;
        if (error.code === "AccessDenied") counters.recordDenial(call.operation, request.region);
        return sts.writeError(res, error);
      }
    }
    if (isAccountRequest(request)) {
      // Account Management is how the stack reads opt-in, not a service under test: no faults, but IAM.
      resolved.service = account.name;
      const call = account.route(request, principal?.accountId ?? "");
      if (call instanceof SandboxError) return account.writeError(res, call);
      resolved.operation = call.operation;
      if (!principal) return account.writeError(res, account.unrecognizedClient());
      if (expired) return account.writeError(res, account.expiredToken());
      counters.recordCall(call.operation, request.region);
      const decision = await authorizer.authorize({
        principal,
        action: call.action,
        resource: call.resource,
        context: { "aws:RequestedRegion": request.region },
      });
      if (!decision.allowed) {
        counters.recordDenial(call.operation, request.region);
        return account.writeError(res, account.accessDenied(decision.message));
      }
      try {
        return account.writeResult(res, call.run());
      } catch (error) {
        if (!(error instanceof SandboxError)) throw error;
        return account.writeError(res, error);
      }
    }
    const service: WireService = isOrganizationsRequest(request) ? organizations : guardDuty;
    resolved.service = service.name;
    const call = service.route(request, principal?.accountId ?? "");
    if (call instanceof SandboxError) {
      service.writeError(res, call);
      return;
    }
    const { operation } = call;
    resolved.operation = operation;
    if (!principal) return service.writeError(res, service.unrecognizedClient());
    if (expired) return service.writeError(res, service.expiredToken());
    const { region } = request;
    // An opt-in region the caller's account has not enabled does not know its credentials at all.
    if (service.name === "guardduty" && !organization.regionEnabled(principal.accountId, region)) {
      return service.writeError(res, service.unrecognizedClient());
    }
    counters.recordCall(operation, region);
    await sleep(faults.latencyMs(service.name));
    for (const needed of [{ action: call.action, resource: call.resource }, ...(call.alsoNeeds?.() ?? [])]) {
      const decision = await authorizer.authorize({
        principal,
        action: needed.action,
        resource: needed.resource,
        context: { "aws:RequestedRegion": region, ...needed.context },
      });
      if (!decision.allowed) {
        counters.recordDenial(operation, region);
        return service.writeError(res, service.accessDenied(decision.message));
      }
    }
    const admission = faults.admit(service.name, operation, region, principal.accountId);
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
      AWS_ENDPOINT_URL_ACCOUNT: url,
    }),
    accounts: () => organization.list(),
    addAccounts: (accounts) =>
      provision("count" in accounts ? organization.addGenerated(accounts.count) : organization.add(accounts)),
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
    features: (accountId, region) => state.featuresOf(accountId, region),
    delegatedAdministrator: (region) => state.delegatedAdministrator(region)?.accountId,
    organizationConfiguration: (region) => state.organizationConfiguration(region),
    registerCredentials: (accessKeyId, accountId) => {
      identities.registerAdministrator(accessKeyId, accountId);
    },
    registerPrincipal: (accessKeyId, principal) => {
      identities.register(accessKeyId, principal);
    },
    addRole: (accountId, role) => {
      identities.addRole(accountId, role);
    },
    provisionRoles: (accountId) => {
      unassumable.delete(accountId);
      const account = organization.get(accountId);
      if (account) provision([account]);
    },
    enableRegion: (accountId, region) => organization.enableRegion(accountId, region),
    seedMembers: (accountIds, regions, features) => {
      for (const accountId of accountIds) {
        const email = organization.get(accountId)?.email ?? `acct-${accountId}@example.com`;
        for (const region of regions)
          state.seedEnabledMember(administratorAccountId, region, accountId, email, features);
      }
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
