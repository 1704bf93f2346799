import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";

/**
 * The stack's EventBridge rules against the samples of events/ and events/lifecycle/, with moto's
 * EventBridge pattern matcher as an oracle the project did not write (its `EventPattern` implements the
 * documented pattern syntax: `anything-but` with `prefix`, `exists`, `$or`). serverless.yml is read as
 * plain YAML (no packaging: test/config/stack.test.ts packages it), its stage variables resolved as
 * `serverless package` resolves them for the default stage.
 */
interface Resource {
  Type: string;
  Properties?: Record<string, unknown>;
}
/** The prefix as serverless.yml writes it. */
// biome-ignore lint/suspicious/noTemplateCurlyInString: Serverless Framework variable syntax
const STACK_PREFIX = "${self:service}-${sls:stage}-";
const DEFAULT_PREFIX = "guardduty-onboarding-dev-";
const resources = (
  parse(readFileSync("serverless.yml", "utf8")) as { resources: { Resources: Record<string, Resource> } }
).resources.Resources;

const MATCHER = `
import json, sys
from moto.events.models import EventPattern
request = json.load(sys.stdin)
print(json.dumps({rule: [name for name, event in request["events"].items()
                         if EventPattern.load(json.dumps(pattern)).matches_event(event)]
                  for rule, pattern in request["patterns"].items()}))
`;

/** Which samples each pattern matches, as moto decides. */
function matches(
  patterns: Record<string, unknown>,
  events: Record<string, unknown>,
): Record<string, string[]> {
  const out = execFileSync("python3", ["-c", MATCHER], { input: JSON.stringify({ patterns, events }) });
  return JSON.parse(out.toString()) as Record<string, string[]>;
}

const samples = (dir: string) =>
  Object.fromEntries(
    readdirSync(dir)
      .filter((file) => file.endsWith(".json"))
      .map((file) => [file.replace(/\.json$/, ""), JSON.parse(readFileSync(`${dir}/${file}`, "utf8"))]),
  );

describe("lifecycle rules (moto's pattern matcher)", () => {
  const rules = () =>
    Object.fromEntries(
      Object.entries(resources)
        .filter(([, resource]) => resource.Type === "AWS::Events::Rule" && resource.Properties?.EventPattern)
        .map(([name, resource]) => [
          name,
          JSON.parse(
            JSON.stringify(resource.Properties?.EventPattern).replaceAll(STACK_PREFIX, DEFAULT_PREFIX),
          ),
        ]),
    );

  it("matches each lifecycle sample with exactly its rule, and never the stack's own calls", () => {
    const matched = matches(rules(), samples("events/lifecycle"));

    expect(matched).toEqual({
      OrganizationsAccountCreatedRule: [],
      ControlTowerAccountCreatedRule: [],
      OrganizationsAccountJoinedRule: [
        "organizations-accept-handshake.cloudtrail-api-call",
        "organizations-account-joined-organization.service-event",
      ],
      OrganizationsAccountDepartedRule: [
        "organizations-account-departed-organization.service-event",
        "organizations-close-account-result.service-event",
        "organizations-remove-account-from-organization.cloudtrail-api-call",
      ],
      GuardDutyTamperSignalRule: [
        "guardduty-delete-members.cloudtrail-api-call",
        "guardduty-disassociate-from-administrator-account.cloudtrail-api-call",
        "guardduty-disassociate-members.cloudtrail-api-call",
        "guardduty-stop-monitoring-members.cloudtrail-api-call",
      ],
    });
  });

  it("leaves the account-created samples to the account-created rules, and failed calls to none", () => {
    const created = samples("events");
    const failed = Object.fromEntries(
      Object.entries(samples("events/lifecycle")).map(([name, event]) => [
        name,
        { ...event, detail: { ...event.detail, errorCode: "AccessDenied" } },
      ]),
    );

    const lifecycle = Object.fromEntries(
      Object.entries(rules()).filter(([name]) => /Joined|Departed|Tamper/.test(name)),
    );

    expect(Object.values(matches(lifecycle, created)).flat()).toEqual([]);
    expect(Object.values(matches(lifecycle, failed)).flat()).toEqual([]);
  });

  it("excludes every role of this stack from the tamper rule by the prefix their names share", () => {
    const pattern = JSON.stringify(resources.GuardDutyTamperSignalRule?.Properties?.EventPattern);
    const prefix = /"anything-but":\{"prefix":"([^"]+)"\}/.exec(pattern)?.[1] ?? "(none)";
    const roles = Object.values(resources)
      .filter((resource) => resource.Type === "AWS::IAM::Role")
      .map((resource) => String(resource.Properties?.RoleName));

    expect(prefix).toBe(STACK_PREFIX);
    expect(roles.length).toBeGreaterThan(0);
    expect(roles.filter((name) => !name.startsWith(prefix))).toEqual([]);
  });
});
