import type { Backend } from "../../backend.js";
import { createProxmoxBackend } from "../proxmox-common/proxmox-backend.js";
import { type ProxmoxCommonOptions, resolveCommonOptions } from "../proxmox-common/proxmox-common-options.js";
import { resolveDeps } from "../proxmox-common/runtime-deps.js";
import { createProxmoxShellDriver } from "./proxmox-shell-driver.js";
import { createCommandRunner, type Spawner } from "./qm-runner.js";

/**
 * `proxmox_backend: shell` — the runner runs as root on the Proxmox node and drives it with `qm`,
 * `pvesh` and `pvesm`. Same decisions as the API backend (proxmox-common), different protocol.
 */
export interface ProxmoxShellBackendOptions extends ProxmoxCommonOptions {
  /** `proxmox_node`; default: this host's name. */
  node?: string;
  /** `proxmox_command_timeout`, per command (default 120 s). */
  commandTimeoutMs?: number;
  /** Absolute paths of the tools, if not on PATH. */
  commands?: { qm?: string; pvesh?: string; pvesm?: string };
  /** Environment for the tools (default: the runner's). */
  env?: Record<string, string | undefined>;
  spawner?: Spawner;
}

export function createProxmoxShellBackend(options: ProxmoxShellBackendOptions): Backend {
  const deps = resolveDeps(options.deps);
  const runner = createCommandRunner({
    now: deps.now,
    ...(options.commandTimeoutMs !== undefined ? { commandTimeoutMs: options.commandTimeoutMs } : {}),
    ...(options.commands ? { commands: options.commands } : {}),
    ...(options.env ? { env: options.env } : {}),
    ...(options.spawner ? { spawner: options.spawner } : {}),
  });
  const driver = createProxmoxShellDriver(runner, options.node);
  return createProxmoxBackend(resolveCommonOptions(driver, { ...options, deps }));
}
