import { dirname } from "node:path";
import type { AgentLabConfig, Logger } from "@agentlab/core";
import { ownerTagFor as ownerTagForDeployment, UnavailableError } from "@agentlab/core";
import type { Backend } from "./backend.js";
import { createLocalBackend } from "./backends/local/local-backend.js";
import { createProxmoxApiBackend } from "./backends/proxmox-api/proxmox-api-backend.js";
import type { ProxmoxCommonOptions } from "./backends/proxmox-common/proxmox-common-options.js";
import { createProxmoxShellBackend } from "./backends/proxmox-shell/proxmox-shell-backend.js";
import { defaultGuestBundlePath, withLocalSandboxDefaults } from "./local-guest-command.js";
import { type GuestSocketConfig, hostGuestSockets } from "./local-sandbox-endpoints.js";

export interface CreateBackendDeps {
  logger: Logger;
  /** The config file read, hidden from local sandboxes along with its directory. */
  configPath?: string | undefined;
  /** The guest bundle mounted into local sandboxes; default: beside the runner (defaultGuestBundlePath). */
  guestBundlePath?: string | undefined;
  /** Node run inside local sandboxes; default: the runner's own. */
  nodePath?: string | undefined;
}

/** `agentlab-<deployment_id>`: the tag every VM of this deployment carries (DESIGN §2). */
export function ownerTagFor(config: Pick<AgentLabConfig, "deployment_id">): string {
  if (!config.deployment_id) {
    throw new UnavailableError({
      message: "deployment_id is not set: the runner cannot tell its VMs from anyone else's",
      what: "deployment_id",
      hint: "set deployment_id in the config (the installer generates one)",
    });
  }
  return ownerTagForDeployment(config.deployment_id);
}

/** Backend logs in core's JSON format: the backends take a small {info, warn} logger. */
function backendLogger(logger: Logger, backend: string) {
  const child = logger.child({ backend });
  return {
    info: (message: string, fields?: Record<string, unknown>) => child.info(fields ?? {}, message),
    warn: (message: string, fields?: Record<string, unknown>) => child.warn(fields ?? {}, message),
  };
}

/** The one Backend this runner drives, chosen by sandbox_backend and proxmox_backend. */
export function createBackend(config: AgentLabConfig & Partial<GuestSocketConfig>, deps: CreateBackendDeps): Backend {
  const ownerTag = ownerTagFor(config);
  if (config.sandbox_backend === "local") {
    const hiddenPaths = ["/etc/agentlab", config.data_dir, "/root"];
    if (deps.configPath) hiddenPaths.push(dirname(deps.configPath));
    const local = createLocalBackend({
      sandboxDir: config.local_sandbox_dir,
      ownerTag,
      hiddenPaths,
      logger: backendLogger(deps.logger, "local"),
    });
    return withLocalSandboxDefaults(local, {
      sockets: hostGuestSockets(config),
      nodePath: deps.nodePath ?? process.execPath,
      guestBundlePath: deps.guestBundlePath ?? defaultGuestBundlePath(),
    });
  }
  // Keys both Proxmox backends share (snippets, clone limits, ownership).
  const common = (kind: string): ProxmoxCommonOptions => ({
    ownerTag,
    snippetsDir: config.snippets_dir,
    snippetStorage: config.snippet_storage,
    ...(config.ssh_public_key !== undefined && { sshPublicKey: config.ssh_public_key }),
    cloneConcurrency: config.proxmox_clone_concurrency,
    deps: { log: backendLogger(deps.logger, kind) },
  });
  if (config.proxmox_backend === "shell") {
    return createProxmoxShellBackend({
      ...common("proxmox-shell"),
      ...(config.proxmox_node !== undefined && { node: config.proxmox_node }),
      commandTimeoutMs: config.proxmox_command_timeout,
    });
  }
  if (!config.proxmox_api_token) {
    throw new UnavailableError({
      message: "proxmox_api_token is not set",
      what: "proxmox_api_token",
      hint: "create one with `pveum user token add` and set proxmox_api_token: USER@REALM!TOKENID=SECRET",
    });
  }
  return createProxmoxApiBackend({
    ...common("proxmox-api"),
    apiUrl: config.proxmox_api_url,
    apiToken: config.proxmox_api_token,
    ...(config.proxmox_node !== undefined && { node: config.proxmox_node }),
    tls: {
      ...(config.proxmox_tls_ca_path !== undefined && { caFile: config.proxmox_tls_ca_path }),
      ...(config.proxmox_tls_fingerprint !== undefined && { fingerprint: config.proxmox_tls_fingerprint }),
      insecure: config.proxmox_tls_insecure,
    },
    requestTimeoutMs: config.proxmox_command_timeout,
  });
}
