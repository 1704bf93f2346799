import { describe, expect, it } from "vitest";
import { departedMembers, offboardRequests } from "#shared/departed-members";

describe("departedMembers", () => {
  const organization = { active: new Set(["111111111111", "222222222222"]) };
  const options = { administratorAccountId: "210987654321", listedFrom: "2026-12-06T06:00:00.000Z" };
  const member = (AccountId: string, UpdatedAt?: string) => ({ AccountId, UpdatedAt });

  it("finds the members whose account the listing did not find active, changed before the listing started", () => {
    const members = [
      member("111111111111", "2026-01-01T00:00:00.000Z"),
      member("333333333333", "2026-01-01T00:00:00.000Z"),
      member("444444444444", "2026-12-06T06:00:01.000Z"),
      member("555555555555"),
      member("210987654321", "2026-01-01T00:00:00.000Z"),
    ];

    expect(departedMembers(members, organization, options)).toEqual(["333333333333"]);
  });

  it("asks to offboard each departed account once, in every region it is still a member of", () => {
    const requests = offboardRequests(new Map([["333333333333", ["us-east-1", "eu-west-1"]]]), {
      requestedAt: "2026-12-06T06:10:00.000Z",
      correlationId: "run-1",
    });

    expect(requests).toEqual([
      {
        key: "333333333333-offboard",
        request: {
          version: 1,
          accountId: "333333333333",
          regions: ["us-east-1", "eu-west-1"],
          attempt: 0,
          origin: "reconcile",
          action: "offboard",
          requestedAt: "2026-12-06T06:10:00.000Z",
          correlationId: "run-1",
        },
      },
    ]);
  });
});
