/** The `agentlab` command tree. main.ts runs it and turns errors into exit codes. */
import { versionLine } from "@agentlab/core/version";
import { Command, Option } from "commander";
import { registerCompletionCommand } from "./commands/completion-command.js";
import { registerEventsCommand } from "./commands/events-command.js";
import { registerHealthCommand } from "./commands/health-command.js";
import { registerJobCommands } from "./commands/job-command.js";
import { registerProfileCommands } from "./commands/profile-command.js";
import { registerSandboxCommands } from "./commands/sandbox-command.js";
import { registerStatusCommand } from "./commands/status-command.js";
import { registerWorkspaceCommands } from "./commands/workspace-command.js";
import { OUTPUT_FORMATS } from "./output/output-format.js";

export function buildProgram(): Command {
  const program = new Command("agentlab")
    .description("AgentLab: isolated sandboxes for unattended AI coding agents")
    .version(versionLine(), "-v, --version", "print the version")
    .option(
      "--socket <path>",
      "control socket, or https://host:port for control_listen (env AGENTLAB_SOCKET; default /run/agentlab/agentlabd.sock)",
    )
    .option("--artifacts-socket <path>", "artifacts socket for downloads (env AGENTLAB_ARTIFACTS_SOCKET)")
    .option("--token <token>", "control_auth_token for a remote https:// endpoint (env AGENTLAB_TOKEN)")
    .option("--ca-file <pem>", "CA certificate that signed control_listen's certificate (env AGENTLAB_CA_FILE)")
    .addOption(new Option("-o, --output <format>", "output format").choices([...OUTPUT_FORMATS]))
    .option("--json", "same as --output json")
    .option("--timeout <duration>", "timeout for each request, e.g. 30s, 10m", "10m")
    .showHelpAfterError("(run with --help for usage)")
    .enablePositionalOptions(false);

  registerStatusCommand(program);
  registerJobCommands(program);
  registerSandboxCommands(program);
  registerWorkspaceCommands(program);
  registerProfileCommands(program);
  registerEventsCommand(program);
  registerHealthCommand(program);
  registerCompletionCommand(program);
  return program;
}
