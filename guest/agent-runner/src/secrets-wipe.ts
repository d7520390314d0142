import { rm } from "node:fs/promises";
import { join } from "node:path";
import { wipeSecretsDir } from "./git-credentials.js";
import type { GuestSettings } from "./guest-settings.js";
import { deletePayloadCache } from "./payload-cache.js";

/**
 * Removes every secret the guest wrote: the secrets directory (askpass helper, git token, SSH key),
 * the task file and, unless the guest is about to be restarted to finish its job, the cached payload
 * (which holds the env secrets and git credentials).
 */
export async function wipeSecrets(settings: GuestSettings, options: { keepPayloadCache: boolean }): Promise<void> {
  await wipeSecretsDir(settings.secretsDir);
  await rm(join(settings.jobDir, "task.txt"), { force: true });
  if (!options.keepPayloadCache) await deletePayloadCache(settings.runDir);
}

/**
 * For `ExecStopPost=agentlab-guest --wipe-secrets`. systemd sets SERVICE_RESULT there: anything but
 * "success" means the unit failed and Restart=on-failure will start it again, which needs the cache.
 */
export function keepCacheForRestart(env: NodeJS.ProcessEnv): boolean {
  return env.SERVICE_RESULT !== undefined && env.SERVICE_RESULT !== "success";
}
