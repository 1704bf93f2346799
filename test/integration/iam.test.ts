import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { run } from "../../cli/main.ts";
import { memberRoleParams } from "../../local/identities.ts";
import type { LocalStack, LocalStackOptions } from "../../local/local-stack.ts";
import { peekDeadLetters } from "../../local/summary.ts";
import { accountIds } from "../support/events.ts";
import { onboardAccounts, startTestStack } from "../support/local.ts";

/**
 * The stack's IAM across the wire: the sandbox evaluates every call against the policies serverless.yml
 * gives the calling function's role, so a policy that lacks what the code calls fails here as it would
 * on AWS, and a member role that does not trust the function refuses it as AWS does.
 */
const REGIONS = ["us-east-1", "eu-west-1"];
let local: LocalStack | undefined;

async function start(accounts: string[], options: Partial<LocalStackOptions> = {}): Promise<LocalStack> {
  local = await startTestStack(accounts, { seed: 13, regions: REGIONS, ...options });
  return local;
}

const onboard = onboardAccounts;

/** serverless.yml with one statement (by Sid) removed from a function's role, as a file. */
function withoutStatement(roleName: string, sid: string): string {
  const definition = parse(readFileSync("serverless.yml", "utf8"));
  const role = definition.resources.Resources[roleName].Properties;
  const document = role.Policies[0].PolicyDocument;
  const before = document.Statement.length;
  document.Statement = document.Statement.filter((statement: { Sid?: string }) => statement.Sid !== sid);
  expect(document.Statement.length).toBe(before - 1);
  const directory = mkdtempSync(join(tmpdir(), "gd-onboard-iam-"));
  const file = join(directory, "serverless.yml");
  writeFileSync(file, stringify(definition));
  // The files serverless.yml reads (`${file(./shared/guardduty-regions.json)}`), beside the copy.
  for (const [, referenced = ""] of readFileSync("serverless.yml", "utf8").matchAll(/\$\{file\(([^)]+)\)/g)) {
    mkdirSync(dirname(join(directory, referenced)), { recursive: true });
    copyFileSync(referenced, join(directory, referenced));
  }
  return file;
}

afterEach(async () => {
  await local?.stop();
  local = undefined;
});

describe("a policy without a statement the code needs", () => {
  for (const [role, sid, action] of [
    ["OnboardRole", "AdministerMembersInConfiguredRegions", "guardduty:ListDetectors"],
    ["OnboardRole", "DescribeOrganizationAccounts", "organizations:DescribeAccount"],
    ["AcceptRole", "EnterMemberAccounts", "sts:AssumeRole"],
  ] as const) {
    it(`dead-letters every account access-denied, naming ${action}, when serverless.yml's ${role} lacks ${sid}`, async () => {
      const ids = accountIds(2, 540000000000);
      const stack = await start(ids, { stackFile: withoutStatement(role, sid) });

      await onboard(stack, ids);

      const letters = await peekDeadLetters(stack.sqs.client, stack.sqs.urls.DeadLetterQueue as string);
      expect(letters).toHaveLength(ids.length * REGIONS.length);
      for (const letter of letters) {
        expect(letter.reason).toBe("access-denied");
        expect(letter.detail).toContain(`is not authorized to perform: ${action}`);
        expect(letter.detail).toContain("because no identity-based policy allows");
      }
      expect(stack.sandbox.counters.denied()).toBeGreaterThan(0);
    });
  }
});

describe("the member role's trust", () => {
  it("refuses a delegated administrator's function OrganizationAccountAccessRole, and the runbook's fix onboards every account", async () => {
    // Prepare: members hold only OrganizationAccountAccessRole (trusting the management account), and the
    // stage is told to use it.
    const ids = accountIds(2, 550000000000);
    const stack = await start(ids, {
      memberRoles: "organization-access",
      params: memberRoleParams("organization-access"),
    });

    // Act 1
    await onboard(stack, ids);

    // Assess 1: invited, not entered; each (account, region) dead-lettered with the trust's refusal.
    const letters = await peekDeadLetters(stack.sqs.client, stack.sqs.urls.DeadLetterQueue as string);
    expect(letters.map((letter) => letter.reason)).toEqual(Array(4).fill("member-role-not-assumable"));
    for (const letter of letters) {
      expect(letter.detail).toMatch(
        /AccessDenied: User: arn:aws:sts::210987654321:assumed-role\/guardduty-onboarding-local-us-east-1-accept\/.+ is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::\d{12}:role\/OrganizationAccountAccessRole$/,
      );
    }
    for (const id of ids)
      for (const region of REGIONS) expect(stack.sandbox.status(id, region)).toBe("Invited");

    // Act 2: the runbook's fix — deploy member-role/template.yml to every account (StackSet), deploy the
    // stack with its default memberRoleName, replay the dead letters.
    await stack.redeploy({ memberRoles: "documented", params: {} });
    const out: string[] = [];
    const code = await run(["dlq", "replay", "--local", "--reason", "member-role-not-assumable"], {
      stdout: { write: (text: string) => out.push(text) },
      stderr: { write: (text: string) => out.push(text) },
      env: stack.env,
    });
    await stack.drained(60_000);

    // Assess 2: Enabled everywhere, each invited once, nothing left in the DLQ.
    expect(code, out.join("")).toBe(0);
    for (const id of ids) {
      for (const region of REGIONS) {
        expect(stack.sandbox.status(id, region)).toBe("Enabled");
        expect(stack.sandbox.counters.invitations(id, region)).toBe(1);
      }
    }
    expect(await peekDeadLetters(stack.sqs.client, stack.sqs.urls.DeadLetterQueue as string)).toEqual([]);
  });
});
