import { join } from "node:path";
import { defineConfig } from "vitest/config";

/**
 * Three tiers, runnable alone (`npm run test:unit`, `test:integration`, `test:config`); `npm test` runs
 * them in that order. The integration tier records every IAM decision of its sandboxes
 * (`SANDBOX_CALL_LOG`); the config tier replays those calls against the packaged template.
 */
export const SANDBOX_CALL_LOG = join(import.meta.dirname, "node_modules", ".cache", "sandbox-calls.jsonl");

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Integration tests start servers on free loopback ports; keep workers few on a 2-core machine.
    maxWorkers: 2,
    // Lambda runs Node 22; the SDK's notice about Node 20 on developer machines is noise in test output.
    // A developer's own `npm run sandbox` (local/discovery.ts) must not reach the tests: those that
    // discover a local stack name their own file.
    env: {
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
      SANDBOX_CALL_LOG,
      GUARDDUTY_ONBOARDING_LOCAL_STACK_FILE: join(
        import.meta.dirname,
        "node_modules",
        ".cache",
        "no-local-stack.json",
      ),
    },
    // Coverage of the domain code (shared/, shared/stages/ included), collected when a run asks for it
    // (`--coverage`). `npm run test:unit` does, so `npm test` fails when the unit tier alone covers less
    // than the thresholds: unit tests cover the domain code on their own. The thresholds sit just below
    // what the unit tier reaches (floored to 5 %); raise them as coverage grows. Report: coverage/
    // (lcov.info, lcov-report/index.html), git-ignored.
    coverage: {
      provider: "v8",
      include: ["shared/**/*.ts"],
      reporter: ["text-summary", "lcov"],
      reportOnFailure: true,
      reportsDirectory: join(import.meta.dirname, "coverage"),
      thresholds: { lines: 95, branches: 85, functions: 95, statements: 95 },
    },
    projects: [
      { extends: true, test: { name: "unit", include: ["test/unit/**/*.test.ts"] } },
      {
        extends: true,
        test: {
          name: "integration",
          include: ["test/integration/**/*.test.ts"],
          globalSetup: ["test/support/call-log-setup.ts"],
        },
      },
      { extends: true, test: { name: "config", include: ["test/config/**/*.test.ts"] } },
    ],
  },
});
