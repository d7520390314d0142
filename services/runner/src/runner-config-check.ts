import { existsSync } from "node:fs";
import type { AgentLabConfig, ConfigIssue } from "@agentlab/core";
import { DEFAULT_CONFIG_PATH } from "@agentlab/core";
import { defaultGuestBundlePath } from "./local-guest-command.js";

export interface RunnerConfigIssues {
  errors: ConfigIssue[];
  warnings: ConfigIssue[];
}

/**
 * What the runner needs beyond what core's loader checks: core validates keys every service shares,
 * but only the runner cannot work without an ownership tag or, locally, the guest bundle.
 */
export function runnerConfigIssues(
  config: AgentLabConfig,
  options: { sourcePath: string | undefined; guestBundlePath?: string | undefined },
): RunnerConfigIssues {
  const path = options.sourcePath ?? DEFAULT_CONFIG_PATH;
  const errors: ConfigIssue[] = [];
  const warnings: ConfigIssue[] = [];
  if (!config.deployment_id) {
    errors.push({
      path,
      key: "deployment_id",
      message: "is required by agentlab-runner: it is the ownership tag on every VM (agentlab-<deployment_id>)",
      hint: "set deployment_id: <1-32 lowercase letters, digits, -> (the installer generates one)",
    });
  }
  if (config.sandbox_backend === "local") {
    const bundle = options.guestBundlePath ?? defaultGuestBundlePath();
    if (!existsSync(bundle)) {
      // Sandboxes can still be provisioned; they fail to start until the bundle is there.
      warnings.push({
        path,
        key: "sandbox_backend",
        message: `local sandboxes run the guest bundle ${bundle}, which does not exist`,
        hint: "run `npm run build` in the repository, or pass --guest-bundle <path>",
      });
    }
  }
  return { errors, warnings };
}
