import { run } from "./main.ts";

/** The process side of `gd-onboard`: real streams, the real environment, the exit code. */
process.exitCode = await run(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
});
