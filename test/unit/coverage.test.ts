import { AccountClient, ListRegionsCommand } from "@aws-sdk/client-account";
import {
  GetMemberDetectorsCommand,
  GetMembersCommand,
  GuardDutyClient,
  ListDetectorsCommand,
} from "@aws-sdk/client-guardduty";
import { ListAccountsCommand, OrganizationsClient } from "@aws-sdk/client-organizations";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it } from "vitest";
import {
  type PairVerdict,
  type RegionState,
  readCoverage,
  readRegion,
  repairOf,
  repairRequests,
  summarize,
  VERDICTS,
  verdictOf,
} from "#shared/coverage";
import { actualPlans, DEFAULT_PROFILE, detectorFeatures, parseProfile, plansFor } from "#shared/protection";
import { accountIds } from "../support/events.ts";

const REGION = "us-east-1";
const wanted = actualPlans(detectorFeatures(plansFor(DEFAULT_PROFILE, REGION)) as never);
const drifted = { ...wanted, S3_DATA_EVENTS: { status: "DISABLED" as const, additional: {} } };
const A = "600000000001";

const state = (status: string | undefined, plans = wanted, unreadable?: string): RegionState => ({
  region: REGION,
  statuses: new Map(status ? [[A, status]] : []),
  plans: new Map(status === "Enabled" && !unreadable ? [[A, plans]] : []),
  unreadable: new Map(unreadable ? [[A, unreadable]] : []),
});

describe("verdictOf", () => {
  it.each([
    ["Enabled", "protected"],
    [undefined, "not-a-member"],
    ["Created", "invited-not-accepted"],
    ["Invited", "invited-not-accepted"],
    ["EmailVerificationInProgress", "invited-not-accepted"],
    ["Disabled", "monitoring-stopped"],
    ["Resigned", "resigned"],
    ["Removed", "removed"],
    ["EmailVerificationFailed", "email-verification-failed"],
    ["SomethingNew", "not-a-member"],
  ])("gives relationship %s the verdict %s", (status, verdict) => {
    expect(verdictOf(A, state(status), DEFAULT_PROFILE).verdict).toBe(verdict);
  });

  it("names each difference of an Enabled member's plans, and why plans could not be read", () => {
    expect(verdictOf(A, state("Enabled", drifted), DEFAULT_PROFILE)).toEqual({
      accountId: A,
      region: REGION,
      status: "Enabled",
      verdict: "plans-differ",
      detail: "S3_DATA_EVENTS is DISABLED, wanted ENABLED",
    });
    expect(verdictOf(A, state("Enabled", wanted, "not an associated member"), DEFAULT_PROFILE)).toMatchObject(
      {
        verdict: "plans-differ",
        detail: "plans not read: not an associated member",
      },
    );
    expect(
      verdictOf(A, { region: REGION, statuses: new Map([[A, "Enabled"]]) }, DEFAULT_PROFILE).detail,
    ).toBe("plans not read: GetMemberDetectors did not answer for this member");
  });

  it("compares with the region's own profile, and says when the administrator has no detector", () => {
    const profile = parseProfile(
      '{"default":{"S3_DATA_EVENTS":"ENABLED"},"regions":{"us-east-1":{"S3_DATA_EVENTS":"DISABLED"}}}',
    );
    expect(verdictOf(A, state("Enabled", drifted), profile).verdict).toBe("protected");
    expect(verdictOf(A, { region: REGION }, profile)).toMatchObject({ verdict: "no-administrator-detector" });
  });

  it("says when the account has not enabled the region, whatever the administrator lists", () => {
    for (const status of ["Enabled", "Invited", undefined])
      expect(verdictOf(A, state(status), DEFAULT_PROFILE, false)).toEqual({
        accountId: A,
        region: REGION,
        verdict: "region-not-enabled-for-account",
        detail: "an opt-in region the account has not enabled (account:ListRegions)",
      });
    // Without the administrator's detector there, that is the region's fact first.
    expect(verdictOf(A, { region: REGION }, DEFAULT_PROFILE, false).verdict).toBe(
      "no-administrator-detector",
    );
  });
});

describe("summarize", () => {
  it("counts every verdict and the ratio of protected pairs to desired ones, leaving regions without detector out", () => {
    const verdicts = [
      "protected",
      "protected",
      "plans-differ",
      "no-administrator-detector",
      "region-not-enabled-for-account",
    ] as const;
    const pairs = verdicts.map(
      (verdict, index): PairVerdict => ({ accountId: A, region: `r${index}`, verdict, detail: "" }),
    );
    const summary = summarize(pairs);
    expect(summary).toMatchObject({ desired: 3, protected: 2, ratio: 2 / 3 });
    expect(summary.byVerdict["region-not-enabled-for-account"]).toBe(1);
    expect(Object.keys(summary.byVerdict)).toEqual([...VERDICTS]);
    expect(summarize([]).ratio).toBe(1);
  });
});

describe("repairs", () => {
  const pair = (
    verdict: PairVerdict["verdict"],
    status?: string,
    region = REGION,
    accountId = A,
  ): PairVerdict => ({
    accountId,
    region,
    verdict,
    status,
    detail: "",
  });
  const invitation = { mode: "invitation", acceptInvitations: true } as const;

  it("maps each verdict to the request step that repairs it", () => {
    expect(repairOf(pair("not-a-member"), invitation)).toBe("onboard");
    expect(repairOf(pair("removed", "Removed"), invitation)).toBe("onboard");
    expect(repairOf(pair("resigned", "Resigned"), invitation)).toBe("onboard");
    expect(repairOf(pair("invited-not-accepted", "Invited"), invitation)).toBe("accept");
    expect(repairOf(pair("invited-not-accepted", "Created"), invitation)).toBe("onboard");
    expect(
      repairOf(pair("invited-not-accepted", "Invited"), { mode: "organization", acceptInvitations: false }),
    ).toBe("onboard");
    expect(
      repairOf(pair("invited-not-accepted", "Invited"), { mode: "invitation", acceptInvitations: false }),
    ).toBe(undefined);
    expect(repairOf(pair("plans-differ", "Enabled"), invitation)).toBe("verify");
    expect(repairOf(pair("monitoring-stopped", "Disabled"), invitation)).toBe("verify");
    expect(repairOf(pair("email-verification-failed", "EmailVerificationFailed"), invitation)).toBe(
      "recreate",
    );
    expect(repairOf(pair("no-administrator-detector"), invitation)).toBe(undefined);
    expect(repairOf(pair("region-not-enabled-for-account"), invitation)).toBe(undefined);
    expect(repairOf(pair("protected", "Enabled"), invitation)).toBe(undefined);
  });

  it("builds one request per (account, repair), naming the regions that need it", () => {
    const B = "600000000002";
    const requests = repairRequests(
      [
        pair("not-a-member", undefined, "us-east-1"),
        pair("removed", "Removed", "eu-west-1"),
        pair("plans-differ", "Enabled", "ap-southeast-2"),
        pair("protected", "Enabled", "us-east-1", B),
      ],
      { ...invitation, origin: "reconcile", requestedAt: "2026-12-02T06:00:00.000Z", correlationId: "run-1" },
    );
    const common = {
      version: 1,
      accountId: A,
      attempt: 0,
      origin: "reconcile",
      requestedAt: "2026-12-02T06:00:00.000Z",
      correlationId: "run-1",
    };
    expect(requests).toEqual([
      { key: `${A}-onboard`, request: { ...common, regions: ["us-east-1", "eu-west-1"] } },
      { key: `${A}-verify`, request: { ...common, regions: ["ap-southeast-2"], step: "verify" } },
    ]);
  });

  it("repairs a member whose e-mail failed verification by recreating it, in either membership mode", () => {
    // Prepare
    const failed = pair("email-verification-failed", "EmailVerificationFailed");
    const modes = [
      invitation,
      { mode: "invitation", acceptInvitations: false },
      { mode: "organization", acceptInvitations: false },
    ] as const;

    // Act
    const repairs = modes.map((options) => repairOf(failed, options));
    const [request] = repairRequests(
      [failed, pair("email-verification-failed", "EmailVerificationFailed", "eu-west-1")],
      {
        ...invitation,
        origin: "reconcile",
        requestedAt: "2026-12-02T06:00:00.000Z",
      },
    );

    // Assess
    expect(repairs).toEqual(["recreate", "recreate", "recreate"]);
    expect(request).toEqual({
      key: `${A}-recreate`,
      request: expect.objectContaining({ accountId: A, regions: [REGION, "eu-west-1"], step: "recreate" }),
    });
  });
});

describe("reading the administrator's view", () => {
  const guardduty = mockClient(GuardDutyClient);
  const organizations = mockClient(OrganizationsClient);
  const client = new GuardDutyClient({ region: REGION });
  const ids = accountIds(60, 600000000100);
  const features = detectorFeatures(plansFor(DEFAULT_PROFILE, REGION));

  beforeEach(() => {
    guardduty.reset();
    organizations.reset();
    guardduty.on(ListDetectorsCommand).resolves({ DetectorIds: ["det-1"] });
    // ids 0–54 Enabled, 55 Resigned, 56 listed without a status, the rest not members.
    const status = (id: string) => {
      const index = ids.indexOf(id);
      return index < 55 ? "Enabled" : index === 55 ? "Resigned" : undefined;
    };
    guardduty.on(GetMembersCommand).callsFake((input: { AccountIds: string[] }) => ({
      Members: input.AccountIds.filter((id) => ids.indexOf(id) <= 56).map(
        (AccountId) => ({ AccountId, RelationshipStatus: status(AccountId) }) as never,
      ),
      UnprocessedAccounts: input.AccountIds.filter((id) => ids.indexOf(id) > 56).map((AccountId) => ({
        AccountId,
        Result: "The request is rejected because the input account ID is not associated with a member.",
      })),
    }));
    guardduty.on(GetMemberDetectorsCommand).callsFake((input: { AccountIds: string[] }) => ({
      MemberDataSourceConfigurations: input.AccountIds.filter((id) => id !== ids[1]).map((AccountId) => ({
        AccountId,
        Features: features,
      })),
      UnprocessedAccounts: input.AccountIds.includes(ids[1] as string)
        ? [{ AccountId: ids[1], Result: "owner@example.com is not an associated member" }]
        : [],
    }));
  });

  it("asks for the given accounts' members ≤ 50 ids a call and reads the Enabled ones' plans ≤ 50 ids a call", async () => {
    const region = await readRegion(client, REGION, ids);

    expect(guardduty.commandCalls(GetMembersCommand).map((call) => call.args[0].input)).toEqual([
      { DetectorId: "det-1", AccountIds: ids.slice(0, 50) },
      { DetectorId: "det-1", AccountIds: ids.slice(50) },
    ]);
    expect(
      guardduty.commandCalls(GetMemberDetectorsCommand).map((call) => call.args[0].input.AccountIds?.length),
    ).toEqual([50, 5]);
    expect(region.statuses?.size).toBe(56);
    expect(region.plans?.size).toBe(54);
    expect(region.unreadable?.get(ids[1] as string)).not.toContain("@");
  });

  it("answers a region without the administrator's detector without asking for members", async () => {
    guardduty.on(ListDetectorsCommand).resolves({ DetectorIds: [] });

    expect(await readRegion(client, REGION, ids)).toEqual({ region: REGION });
    expect(guardduty.commandCalls(GetMembersCommand)).toHaveLength(0);
  });

  it("gives every active account but the administrator a verdict in every region read, and reports a region that failed", async () => {
    const admin = "210987654321";
    organizations.on(ListAccountsCommand).resolves({
      Accounts: [
        { Id: admin, State: "ACTIVE" },
        { Id: ids[0], State: "ACTIVE" },
        { Id: ids[55], State: "ACTIVE" },
        { Id: ids[59], State: "SUSPENDED" },
      ],
    });
    const progress: string[] = [];
    // eu-west-1 cannot be reached at all.
    const failing = {
      send: () => Promise.reject(new Error("socket hang up")),
    } as unknown as GuardDutyClient;

    const report = await readCoverage(
      {
        organizations: new OrganizationsClient({ region: "us-east-1" }),
        account: new AccountClient({ region: "us-east-1" }),
        guardduty: (region) => (region === REGION ? client : failing),
      },
      {
        regions: [REGION, "eu-west-1"],
        profile: DEFAULT_PROFILE,
        administratorAccountId: admin,
        onProgress: (step) => progress.push(step.phase),
      },
    );

    expect(report.pairs.map(({ accountId, region, verdict }) => [accountId, region, verdict])).toEqual([
      [ids[0], REGION, "protected"],
      [ids[55], REGION, "resigned"],
    ]);
    expect(report).toMatchObject({
      accounts: 4,
      inactive: 1,
      regionsFailed: { "eu-west-1": "Error: socket hang up" },
    });
    expect(report.summary.ratio).toBe(0.5);
    expect(progress).toEqual(["accounts", "members", "members"]);
    // No managed region is an opt-in region: the Account Management API is not asked.
    expect(report.optInsFailed).toEqual({});
  });

  it("reads opt-in only for an opt-in region, and leaves the pairs of accounts that have not enabled it out of the desired ones", async () => {
    const account = mockClient(AccountClient);
    const OPT_IN = "af-south-1";
    const [enabled, notEnabled, unreadable] = [ids[0], ids[2], ids[3]] as [string, string, string];
    organizations.on(ListAccountsCommand).resolves({
      Accounts: [enabled, notEnabled, unreadable].map((Id) => ({ Id, State: "ACTIVE" })),
    });
    guardduty.on(GetMembersCommand).resolves({
      Members: [enabled, notEnabled, unreadable].map(
        (AccountId) => ({ AccountId, RelationshipStatus: "Enabled" }) as never,
      ),
    });
    account.on(ListRegionsCommand).callsFake((input: { AccountId: string }) => {
      if (input.AccountId === unreadable) throw new Error("AccessDeniedException: trusted access is off");
      return {
        Regions: [
          { RegionName: REGION, RegionOptStatus: "ENABLED_BY_DEFAULT" },
          ...(input.AccountId === enabled ? [{ RegionName: OPT_IN, RegionOptStatus: "ENABLED" }] : []),
        ],
      };
    });

    const report = await readCoverage(
      {
        organizations: new OrganizationsClient({ region: "us-east-1" }),
        account: new AccountClient({ region: "us-east-1" }),
        guardduty: (region) => new GuardDutyClient({ region }),
      },
      { regions: [REGION, OPT_IN], profile: DEFAULT_PROFILE },
    );

    expect(report.pairs.map(({ accountId, region, verdict }) => [accountId, region, verdict])).toEqual([
      [enabled, REGION, "protected"],
      [enabled, OPT_IN, "protected"],
      [notEnabled, REGION, "protected"],
      [notEnabled, OPT_IN, "region-not-enabled-for-account"],
      [unreadable, REGION, "protected"],
      [unreadable, OPT_IN, "protected"],
    ]);
    expect(report.summary).toMatchObject({ desired: 5, protected: 5, ratio: 1 });
    expect(report.optInsFailed).toEqual({
      [unreadable]: "Error: AccessDeniedException: trusted access is off",
    });
    expect(account.commandCalls(ListRegionsCommand)).toHaveLength(3);
    account.restore();
  });
});
