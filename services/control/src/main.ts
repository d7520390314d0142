/** `agentlab-control`: the control service alone (see service-commands.ts for the command line). */
import { createLogger } from "@agentlab/core";
import { startControl } from "./control-server.js";
import { runServiceCommand } from "./service-commands.js";

process.exitCode = await runServiceCommand(process.argv.slice(2), {
  program: "agentlab-control",
  async serve(config) {
    const logger = createLogger({ service: "control", level: config.log_level });
    const control = await startControl({ config, logger });
    return { reload: () => control.reloadProfiles(), close: () => control.close() };
  },
});
