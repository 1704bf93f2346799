#!/usr/bin/env node
// `gd-onboard` (package.json "bin"): loads the TypeScript CLI through tsx, as `npm start` runs local/.
import { register } from "tsx/esm/api";

// The SDK's notice that it will drop Node 20 is noise in an operator's terminal (npm scripts mute it too).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
register();
await import("./entry.ts");
