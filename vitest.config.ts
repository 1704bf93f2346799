import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Integration tests start servers on free loopback ports; keep workers few on a 2-core machine.
    maxWorkers: 2,
  },
});
