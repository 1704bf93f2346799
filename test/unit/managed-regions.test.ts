import {
  type AccountClient,
  ListRegionsCommand,
  type ListRegionsCommandInput,
} from "@aws-sdk/client-account";
import { type GuardDutyClient, ListDetectorsCommand } from "@aws-sdk/client-guardduty";
import { afterEach, describe, expect, it } from "vitest";
import {
  ALL_REGIONS,
  admissibleRegions,
  DISCOVERY_TTL_MS,
  discoverManagedRegions,
  guardDutyRegions,
  ManagedRegions,
  type ManagedRegionsReport,
  partitionOf,
  resolveManagedRegions,
} from "#shared/managed-regions";

/** What the administrator's account answers: its usable regions (ListRegions) and, per region, ListDetectors. */
type RegionAnswer = string | undefined | Error;

function awsError(name: string, status: number): Error {
  return Object.assign(new Error(`${name} in this region`), { name, $metadata: { httpStatusCode: status } });
}

/** Plain fakes of the two APIs, recording every call: the Account API pages `enabled` two by two. */
function administrator(enabled: readonly [string, string][], detectors: Record<string, RegionAnswer>) {
  const listRegions: ListRegionsCommandInput[] = [];
  const listDetectors: string[] = [];
  let failListRegions: Error | undefined;
  const account = {
    send: async (command: ListRegionsCommand) => {
      expect(command).toBeInstanceOf(ListRegionsCommand);
      listRegions.push(command.input);
      if (failListRegions) throw failListRegions;
      const start = Number(command.input.NextToken ?? 0);
      const page = enabled.slice(start, start + 2);
      return {
        Regions: page.map(([RegionName, RegionOptStatus]) => ({ RegionName, RegionOptStatus })),
        NextToken: start + 2 < enabled.length ? String(start + 2) : undefined,
      };
    },
  } as unknown as AccountClient;
  const guardduty = (region: string) =>
    ({
      send: async (command: ListDetectorsCommand) => {
        expect(command).toBeInstanceOf(ListDetectorsCommand);
        listDetectors.push(region);
        const answer = detectors[region];
        if (answer instanceof Error) throw answer;
        return { DetectorIds: answer ? [answer] : [] };
      },
    }) as unknown as GuardDutyClient;
  return {
    clients: { account, guardduty },
    listRegions,
    listDetectors,
    failListRegionsWith: (error: Error | undefined) => {
      failListRegions = error;
    },
  };
}

const ENABLED_BY_DEFAULT = (region: string): [string, string] => [region, "ENABLED_BY_DEFAULT"];

describe("the partition's GuardDuty regions", () => {
  it("are kept per partition, and a region's partition is read from its name", () => {
    expect(guardDutyRegions("aws")).toContain("us-east-1");
    expect(guardDutyRegions("aws")).toContain("af-south-1");
    expect(guardDutyRegions("aws-cn")).toEqual(["cn-north-1", "cn-northwest-1"]);
    expect(guardDutyRegions("aws-us-gov")).toEqual(["us-gov-east-1", "us-gov-west-1"]);
    expect(guardDutyRegions("aws-unknown")).toEqual([]);
    expect([partitionOf("eu-west-1"), partitionOf("cn-north-1"), partitionOf("us-gov-west-1")]).toEqual([
      "aws",
      "aws-cn",
      "aws-us-gov",
    ]);
  });

  it("bound what a function acting only on the onboard function's requests admits under all, with no call", () => {
    expect(admissibleRegions(ALL_REGIONS, "aws-cn")).toEqual(["cn-north-1", "cn-northwest-1"]);
    expect(admissibleRegions(["eu-west-1"], "aws")).toEqual(["eu-west-1"]);
  });
});

describe("discovering the administrator's GuardDuty regions", () => {
  it("manages the regions its own account enabled in which ListDetectors finds its detector, asking ListRegions without AccountId, every page", async () => {
    // Prepare: four usable regions over two pages, one of them without a detector; an opt-in region
    // being enabled (ENABLING) is not usable yet.
    const admin = administrator(
      [
        ENABLED_BY_DEFAULT("eu-west-1"),
        ["af-south-1", "ENABLED"],
        ENABLED_BY_DEFAULT("us-east-1"),
        ENABLED_BY_DEFAULT("us-west-2"),
        ["me-south-1", "ENABLING"],
      ],
      { "eu-west-1": "d-eu", "af-south-1": "d-af", "us-east-1": "d-us", "us-west-2": undefined },
    );

    // Act
    const report = await discoverManagedRegions(admin.clients, "aws");

    // Assess
    expect(report).toEqual({
      regions: ["af-south-1", "eu-west-1", "us-east-1"],
      discovered: true,
      failed: {},
      withoutDetector: ["us-west-2"],
      unreachable: {},
      unlisted: [],
    });
    expect(admin.listRegions).toHaveLength(3);
    for (const input of admin.listRegions) {
      expect(input.AccountId).toBeUndefined();
      expect(input.RegionOptStatusContains).toEqual(["ENABLED", "ENABLED_BY_DEFAULT"]);
      expect(input.MaxResults).toBe(50);
    }
    expect(admin.listRegions.map((input) => input.NextToken)).toEqual([undefined, "2", "4"]);
    expect(admin.listDetectors.sort()).toEqual(["af-south-1", "eu-west-1", "us-east-1", "us-west-2"]);
  });

  it("never asks an opt-in region the account has not enabled", async () => {
    const admin = administrator([ENABLED_BY_DEFAULT("us-east-1"), ["il-central-1", "DISABLED"]], {
      "us-east-1": "d-us",
      "il-central-1": "d-il",
    });

    const report = await discoverManagedRegions(admin.clients, "aws");

    expect(report.regions).toEqual(["us-east-1"]);
    expect(admin.listDetectors).toEqual(["us-east-1"]);
  });

  it("leaves out a region answering UnrecognizedClientException or 403, reports a region that fails otherwise and keeps it managed", async () => {
    const admin = administrator(
      [
        ENABLED_BY_DEFAULT("eu-west-1"),
        ENABLED_BY_DEFAULT("eu-west-2"),
        ENABLED_BY_DEFAULT("eu-west-3"),
        ENABLED_BY_DEFAULT("us-east-1"),
      ],
      {
        "eu-west-1": awsError("UnrecognizedClientException", 403),
        "eu-west-2": awsError("AccessDeniedException", 403),
        "eu-west-3": awsError("InternalServerErrorException", 500),
        "us-east-1": "d-us",
      },
    );

    const report = await discoverManagedRegions(admin.clients, "aws");

    expect(report.regions).toEqual(["eu-west-3", "us-east-1"]);
    expect(Object.keys(report.failed)).toEqual(["eu-west-3"]);
    expect(report.failed["eu-west-3"]).toContain("InternalServerErrorException");
    expect(Object.keys(report.unreachable).sort()).toEqual(["eu-west-1", "eu-west-2"]);
  });

  it("reports, and never calls, an enabled region the partition's list does not know", async () => {
    const admin = administrator([ENABLED_BY_DEFAULT("us-east-1"), ENABLED_BY_DEFAULT("xx-future-1")], {
      "us-east-1": "d-us",
    });

    const report = await discoverManagedRegions(admin.clients, "aws");

    expect(report.regions).toEqual(["us-east-1"]);
    expect(report.unlisted).toEqual(["xx-future-1"]);
    expect(admin.listDetectors).toEqual(["us-east-1"]);
  });

  it("takes a configured list as it is, with no call", async () => {
    const admin = administrator([ENABLED_BY_DEFAULT("us-east-1")], { "us-east-1": "d-us" });

    const once = await resolveManagedRegions(["eu-west-1", "us-east-1"], admin.clients, "aws");
    const kept = await new ManagedRegions(["eu-west-1"], admin.clients, { partition: "aws" }).resolve();

    expect(once).toMatchObject({ regions: ["eu-west-1", "us-east-1"], discovered: false, failed: {} });
    expect(kept.regions).toEqual(["eu-west-1"]);
    expect(admin.listRegions).toHaveLength(0);
    expect(admin.listDetectors).toHaveLength(0);
  });

  it("discovers afresh on every resolution of a run (the reconcile's)", async () => {
    const detectors: Record<string, RegionAnswer> = { "us-east-1": "d-us", "eu-west-1": undefined };
    const admin = administrator(
      [ENABLED_BY_DEFAULT("eu-west-1"), ENABLED_BY_DEFAULT("us-east-1")],
      detectors,
    );

    const before = await resolveManagedRegions(ALL_REGIONS, admin.clients, "aws");
    detectors["eu-west-1"] = "d-eu"; // the administrator enables GuardDuty in eu-west-1
    const after = await resolveManagedRegions(ALL_REGIONS, admin.clients, "aws");

    expect(before.regions).toEqual(["us-east-1"]);
    expect(after.regions).toEqual(["eu-west-1", "us-east-1"]);
  });
});

describe("a container's managed regions", () => {
  let clock = 0;
  const now = () => clock;
  afterEach(() => {
    clock = 0;
  });

  it("keeps a discovery for the TTL, then discovers again: a region enabled meanwhile is managed without a redeploy", async () => {
    const detectors: Record<string, RegionAnswer> = { "us-east-1": "d-us", "eu-west-1": undefined };
    const admin = administrator(
      [ENABLED_BY_DEFAULT("eu-west-1"), ENABLED_BY_DEFAULT("us-east-1")],
      detectors,
    );
    const discoveries: ManagedRegionsReport[] = [];
    const managed = new ManagedRegions(ALL_REGIONS, admin.clients, {
      partition: "aws",
      now,
      onDiscovery: (report) => discoveries.push(report),
    });

    const first = await managed.resolve();
    detectors["eu-west-1"] = "d-eu";
    clock = DISCOVERY_TTL_MS - 1;
    const cached = await managed.resolve();
    clock = DISCOVERY_TTL_MS;
    const later = await managed.resolve();

    expect(first.regions).toEqual(["us-east-1"]);
    expect(cached).toBe(first);
    expect(later.regions).toEqual(["eu-west-1", "us-east-1"]);
    expect(admin.listRegions).toHaveLength(2);
    expect(discoveries).toEqual([first, later]);
  });

  it("discovers again before the TTL for a request made after the discovery naming a GuardDuty region it does not manage (the reconcile's repair)", async () => {
    const detectors: Record<string, RegionAnswer> = { "us-east-1": "d-us", "eu-west-1": undefined };
    const admin = administrator(
      [ENABLED_BY_DEFAULT("eu-west-1"), ENABLED_BY_DEFAULT("us-east-1")],
      detectors,
    );
    const managed = new ManagedRegions(ALL_REGIONS, admin.clients, { partition: "aws", now });
    const at = (ms: number) => new Date(ms).toISOString();
    clock = 10_000;

    await managed.resolve();
    detectors["eu-west-1"] = "d-eu";
    clock = 20_000;
    const kept = [
      await managed.resolve(undefined, [{ region: "eu-west-1", requestedAt: at(5_000) }]), // older news
      await managed.resolve(undefined, [{ region: "us-east-1", requestedAt: at(15_000) }]), // managed
      await managed.resolve(undefined, [{ region: "xx-future-1", requestedAt: at(15_000) }]), // not GuardDuty's
    ];
    const repaired = await managed.resolve(undefined, [{ region: "eu-west-1", requestedAt: at(15_000) }]);
    const manual = await managed.resolve(undefined, [{ region: "us-east-1" }]);

    expect(kept.map((report) => report.regions)).toEqual([["us-east-1"], ["us-east-1"], ["us-east-1"]]);
    expect(repaired.regions).toEqual(["eu-west-1", "us-east-1"]);
    expect(manual).toBe(repaired);
    expect(admin.listRegions).toHaveLength(2);
  });

  it("keeps no discovery in which a region failed: the next batch asks again", async () => {
    const detectors: Record<string, RegionAnswer> = {
      "us-east-1": "d-us",
      "eu-west-1": awsError("ThrottlingException", 400),
    };
    const admin = administrator(
      [ENABLED_BY_DEFAULT("eu-west-1"), ENABLED_BY_DEFAULT("us-east-1")],
      detectors,
    );
    const managed = new ManagedRegions(ALL_REGIONS, admin.clients, { partition: "aws", now });

    const failing = await managed.resolve();
    detectors["eu-west-1"] = "d-eu";
    const answered = await managed.resolve();
    const cached = await managed.resolve();

    expect(failing.failed).toHaveProperty("eu-west-1");
    expect(failing.regions).toEqual(["eu-west-1", "us-east-1"]);
    expect(answered.failed).toEqual({});
    expect(cached).toBe(answered);
    expect(admin.listRegions).toHaveLength(2);
  });

  it("serves the last discovery while ListRegions fails, and throws when it has none", async () => {
    const admin = administrator([ENABLED_BY_DEFAULT("us-east-1")], { "us-east-1": "d-us" });
    const managed = new ManagedRegions(ALL_REGIONS, admin.clients, { partition: "aws", now });
    const fresh = new ManagedRegions(ALL_REGIONS, admin.clients, { partition: "aws", now });

    const first = await managed.resolve();
    admin.failListRegionsWith(awsError("TooManyRequestsException", 429));
    clock = DISCOVERY_TTL_MS;

    await expect(managed.resolve()).resolves.toBe(first);
    await expect(fresh.resolve()).rejects.toThrow(/TooManyRequestsException/);
  });
});
