import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Integration tests start servers on free loopback ports; keep workers few on a 2-core machine.
    maxWorkers: 2,
    // Lambda runs Node 22; the SDK's notice about Node 20 on developer machines is noise in test output.
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" },
  },
});
