import { AccountClient, ListRegionsCommand } from "@aws-sdk/client-account";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, describe, expect, it } from "vitest";
import { OPT_IN_REGIONS, optInRegionsOf, readOptIns, regionEnabled } from "#shared/regions";

const A = "600000000001";
const B = "600000000002";

describe("opt-in regions", () => {
  const account = mockClient(AccountClient);
  const client = new AccountClient({ region: "us-east-1" });

  afterEach(() => {
    account.reset();
  });

  it("knows which managed regions need an opt-in", () => {
    expect(optInRegionsOf(["us-east-1", "af-south-1", "eu-west-1", "me-south-1"])).toEqual([
      "af-south-1",
      "me-south-1",
    ]);
    expect(OPT_IN_REGIONS.has("us-east-1")).toBe(false);
  });

  it("asks nothing when no managed region is an opt-in region", async () => {
    const optIns = await readOptIns(client, [A, B], ["us-east-1", "eu-west-1"]);

    expect(account.calls()).toHaveLength(0);
    expect(optIns.notEnabled.size).toBe(0);
    expect(regionEnabled(optIns, A, "us-east-1")).toBe(true);
    expect(regionEnabled(undefined, A, "af-south-1")).toBe(true);
  });

  it("lists every page of each account's usable regions, and counts ENABLING as not usable yet", async () => {
    account
      .on(ListRegionsCommand, { AccountId: A })
      .resolvesOnce({
        Regions: [{ RegionName: "us-east-1", RegionOptStatus: "ENABLED_BY_DEFAULT" }],
        NextToken: "p2",
      })
      .resolves({ Regions: [{ RegionName: "af-south-1", RegionOptStatus: "ENABLED" }] });
    account
      .on(ListRegionsCommand, { AccountId: B })
      .resolves({ Regions: [{ RegionName: "af-south-1", RegionOptStatus: "ENABLING" }, {}] });

    const optIns = await readOptIns(client, [A, B], ["us-east-1", "af-south-1", "me-south-1"]);

    expect(account.commandCalls(ListRegionsCommand).map((call) => call.args[0].input)).toEqual([
      {
        AccountId: A,
        RegionOptStatusContains: ["ENABLED", "ENABLED_BY_DEFAULT"],
        MaxResults: 50,
        NextToken: undefined,
      },
      {
        AccountId: B,
        RegionOptStatusContains: ["ENABLED", "ENABLED_BY_DEFAULT"],
        MaxResults: 50,
        NextToken: undefined,
      },
      {
        AccountId: A,
        RegionOptStatusContains: ["ENABLED", "ENABLED_BY_DEFAULT"],
        MaxResults: 50,
        NextToken: "p2",
      },
    ]);
    expect(optIns.notEnabled).toEqual(
      new Map([
        [A, new Set(["me-south-1"])],
        [B, new Set(["af-south-1", "me-south-1"])],
      ]),
    );
    expect(regionEnabled(optIns, A, "af-south-1")).toBe(true);
    expect(regionEnabled(optIns, B, "af-south-1")).toBe(false);
    expect(regionEnabled(optIns, B, "us-east-1")).toBe(true);
  });

  it("reports an account it cannot read instead of guessing", async () => {
    account.on(ListRegionsCommand).rejects(new Error("owner@example.com is not allowed"));

    const optIns = await readOptIns(client, [A], ["af-south-1"]);

    expect(optIns.notEnabled.size).toBe(0);
    expect(optIns.unread.get(A)).toMatch(/^Error: /);
    expect(optIns.unread.get(A)).not.toContain("@");
  });
});
