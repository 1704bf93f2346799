import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { SANDBOX_CALL_LOG } from "../../vitest.config.ts";

/** The integration tier starts a fresh IAM call log (test/config/iam.test.ts replays it). */
export default function setup(): void {
  mkdirSync(dirname(SANDBOX_CALL_LOG), { recursive: true });
  writeFileSync(SANDBOX_CALL_LOG, "");
}
