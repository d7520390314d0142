#!/usr/bin/env node
// Launcher: runs the bundle that `npm run build` (the root `prepare` step) writes to dist/.
import { existsSync } from "node:fs";

const bundle = new URL("../dist/agentlab-control.mjs", import.meta.url);
if (!existsSync(bundle)) {
  process.stderr.write(
    "agentlab-control: dist/agentlab-control.mjs is missing; run `npm run build` at the repository root\n",
  );
  process.exit(1);
}
await import(bundle.href);
