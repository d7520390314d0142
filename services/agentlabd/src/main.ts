/**
 * `agentlabd`: the single-host launcher. `agentlabd --config PATH` serves a configured deployment;
 * `agentlabd --dev` makes and serves one under ./.agentlab-dev on the local backend and prints how
 * to point the CLI at it. The other commands (migrate, backup, restore, --config-check) are shared
 * with agentlab-control.
 */

import { runServiceCommand } from "@agentlab/control/service-commands";
import { loadConfig } from "@agentlab/core";
import { startAgentlabd } from "./agentlabd.js";
import { prepareDevEnvironment } from "./dev-environment.js";
import { isRunnerThread, runRunnerThread } from "./runner-thread-worker.js";

// agentlabd's runner thread runs this same module (runner-thread.ts): there it serves the runner.
if (isRunnerThread()) await runRunnerThread();
else process.exitCode = await serveOrRunCommand();

function serveOrRunCommand(): Promise<number> {
  return runServiceCommand(process.argv.slice(2), {
    program: "agentlabd",
    extraFlags: { dev: { type: "boolean", default: false } },
    loadConfig(flags, overrides) {
      if (flags.dev) {
        const dev = prepareDevEnvironment();
        return loadConfig({ path: dev.configPath, overrides });
      }
      return loadConfig({ ...(typeof flags.config === "string" ? { path: flags.config } : {}), overrides });
    },
    async serve(config, loaded, flags) {
      const daemon = await startAgentlabd(config, {
        ...(loaded.sourcePath ? { configPath: loaded.sourcePath } : {}),
        dev: Boolean(flags.dev),
        runnerThreadEntry: new URL(import.meta.url),
      });
      if (flags.dev) {
        process.stdout.write(
          [
            `agentlabd (dev) is serving; data in ${config.data_dir}`,
            "point the CLI at it with:",
            `  export AGENTLAB_SOCKET=${config.socket_path} AGENTLAB_ARTIFACTS_SOCKET=${config.artifacts_socket}`,
            "",
          ].join("\n"),
        );
      }
      return daemon;
    },
  });
}
