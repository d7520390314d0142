import type { Backend } from "../../backend.js";
import { createProxmoxBackend } from "../proxmox-common/proxmox-backend.js";
import { type ProxmoxCommonOptions, resolveCommonOptions } from "../proxmox-common/proxmox-common-options.js";
import { resolveDeps } from "../proxmox-common/runtime-deps.js";
import { createProxmoxApiDriver } from "./proxmox-api-driver.js";
import { createPveClient } from "./pve-client.js";
import { DEFAULT_TASK_POLL } from "./task-waiter.js";
import type { TlsTrustOptions } from "./tls-trust.js";

/**
 * `proxmox_backend: api` — the runner drives Proxmox through pveproxy's REST API with an API token.
 * Decisions (retry reads a bounded number of times, never re-send a clone before looking, a missing
 * VM is "not found" only when Proxmox said so) are shared with the shell backend in proxmox-common.
 */
export interface ProxmoxApiBackendOptions extends ProxmoxCommonOptions {
  /** `proxmox_api_url` (default `https://localhost:8006`). */
  apiUrl?: string;
  /** `proxmox_api_token`: `user@realm!tokenid=<secret>`. */
  apiToken: string;
  /** `proxmox_node`; default: the first online node of `GET /nodes`. */
  node?: string;
  /** `proxmox_tls_ca_path` / `proxmox_tls_fingerprint` / `proxmox_tls_insecure` — mutually exclusive. */
  tls?: TlsTrustOptions;
  /** Per-request HTTP timeout (`proxmox_command_timeout`), default 60 s; operation deadlines come from each call. */
  requestTimeoutMs?: number;
}

export function createProxmoxApiBackend(options: ProxmoxApiBackendOptions): Backend {
  const deps = resolveDeps(options.deps);
  const client = createPveClient({
    apiUrl: options.apiUrl ?? "https://localhost:8006",
    token: options.apiToken,
    ...(options.tls ? { tls: options.tls } : {}),
    ...(options.requestTimeoutMs !== undefined ? { requestTimeoutMs: options.requestTimeoutMs } : {}),
    log: deps.log,
    now: deps.now,
  });
  const taskPoll = { ...DEFAULT_TASK_POLL, ...options.taskPoll };
  const driver = createProxmoxApiDriver(client, deps, taskPoll, options.node);
  return createProxmoxBackend(resolveCommonOptions(driver, { ...options, deps }));
}
