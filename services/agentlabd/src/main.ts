import { versionLine } from "@agentlab/core";

// Placeholder entry point: replaced when this binary is implemented.
if (process.argv.includes("--version")) {
  process.stdout.write(`${versionLine()}\n`);
} else {
  process.stderr.write("agentlabd: not implemented yet\n");
  process.exitCode = 1;
}
