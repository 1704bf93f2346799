import { ACCOUNT_ID_PATTERN } from "./ids.ts";

/**
 * Account lifecycle events (README, "Lifecycle events"): what each one asks of the pipeline, and where its
 * account ids are. Joins are onboarded on the event; departures and closures are offboarded (the member
 * disassociated and deleted in every managed region); tamper signals — GuardDuty membership calls this
 * stack did not make — ask for a fresh onboarding of the accounts they name, which re-creates, re-invites
 * and verifies protection as needed.
 *
 * The newest events (`AccountJoinedOrganization`, `AccountDepartedOrganization`, 2026-05) have no
 * published body, so account ids are looked for defensively, in every place CloudTrail puts them, and
 * validated as 12 digits (events/lifecycle/README.md says which samples are reconstructions).
 */

export const JOIN_EVENTS = ["AcceptHandshake", "AccountJoinedOrganization"] as const;
export const DEPARTURE_EVENTS = [
  "CloseAccountResult",
  "RemoveAccountFromOrganization",
  "LeaveOrganization",
  "AccountDepartedOrganization",
] as const;
export const TAMPER_EVENTS = [
  "DisassociateFromAdministratorAccount",
  "StopMonitoringMembers",
  "DeleteMembers",
  "DisassociateMembers",
] as const;

export type LifecycleKind = "join" | "departure" | "tamper";

const KINDS = new Map<string, LifecycleKind>([
  ...JOIN_EVENTS.map((name) => [name, "join"] as const),
  ...DEPARTURE_EVENTS.map((name) => [name, "departure"] as const),
  ...TAMPER_EVENTS.map((name) => [name, "tamper"] as const),
]);

/** The lifecycle kind of an event name, or undefined for any other event. */
export function lifecycleKind(eventName: unknown): LifecycleKind | undefined {
  return typeof eventName === "string" ? KINDS.get(eventName) : undefined;
}

/** Whether a request was made from a tamper signal (counted as the `TamperSignal` metric). */
export function isTamperSignal(trigger: string | undefined): boolean {
  return lifecycleKind(trigger) === "tamper";
}

type Json = Record<string, unknown>;

const objectOf = (value: unknown): Json | undefined => {
  if (typeof value === "string") {
    try {
      return objectOf(JSON.parse(value));
    } catch {
      return undefined;
    }
  }
  return value && typeof value === "object" && !Array.isArray(value) ? (value as Json) : undefined;
};
const isAccountId = (value: unknown): value is string =>
  typeof value === "string" && ACCOUNT_ID_PATTERN.test(value);

/** The outcome of reading a lifecycle event: the accounts it names, or why it names none. */
export type LifecycleRead =
  | { readonly kind: LifecycleKind; readonly accountIds: readonly string[] }
  | { readonly kind: LifecycleKind; readonly ignored: string };

/**
 * The accounts a lifecycle event (its CloudTrail `detail`) is about:
 * - `AcceptHandshake`: the accepting account is the caller (`userIdentity.accountId`, `recipientAccountId`),
 *   and only an `INVITE` handshake (Organizations' other handshakes enable features) joins an account;
 *   a call that failed (`errorCode`) joined nothing.
 * - `AccountJoinedOrganization` / `AccountDepartedOrganization` / `CloseAccountResult`:
 *   `serviceEventDetails` (an object or a JSON string) — `accountId`, or `closeAccountStatus.accountId`
 *   (state `SUCCEEDED` only), or `account.accountId`.
 * - `RemoveAccountFromOrganization`: `requestParameters.accountId`. `LeaveOrganization`: the caller.
 * - Tamper signals: `requestParameters.accountIds`; `DisassociateFromAdministratorAccount` is the member's
 *   own call, so the caller.
 */
export function readLifecycleEvent(detail: Json): LifecycleRead | undefined {
  const eventName = detail.eventName;
  const kind = lifecycleKind(eventName);
  if (!kind) return undefined;
  if (typeof detail.errorCode === "string") return { kind, ignored: `the call failed (${detail.errorCode})` };
  const identity = objectOf(detail.userIdentity);
  const caller = [identity?.accountId, detail.recipientAccountId].find(isAccountId);
  const found = (...candidates: unknown[]): LifecycleRead => {
    const accountIds = [...new Set(candidates.flat().filter(isAccountId))];
    return accountIds.length > 0
      ? { kind, accountIds }
      : { kind, ignored: `no account id found in the ${String(eventName)} event` };
  };
  const request = objectOf(detail.requestParameters);
  const service = objectOf(detail.serviceEventDetails);
  switch (eventName) {
    case "AcceptHandshake": {
      const handshake = objectOf(objectOf(detail.responseElements)?.handshake);
      const action = handshake?.action;
      if (action !== undefined && action !== "INVITE")
        return { kind, ignored: `a ${String(action)} handshake joins no account` };
      return found(caller);
    }
    case "LeaveOrganization":
    case "DisassociateFromAdministratorAccount":
      return found(caller);
    case "RemoveAccountFromOrganization":
      return found(request?.accountId);
    case "CloseAccountResult": {
      const status = objectOf(service?.closeAccountStatus);
      if (typeof status?.state === "string" && status.state !== "SUCCEEDED")
        return { kind, ignored: `the account closure is in state ${status.state}` };
      return found(status?.accountId, service?.accountId);
    }
    case "AccountJoinedOrganization":
    case "AccountDepartedOrganization":
      return found(
        service?.accountId,
        objectOf(service?.account)?.accountId,
        request?.accountId,
        objectOf(detail.additionalEventData)?.accountId,
      );
    default: {
      const ids = request?.accountIds;
      return found(Array.isArray(ids) ? ids : []);
    }
  }
}
