/**
 * The bootstrap document each sandbox gets (cloud-init snippet on Proxmox, a file in a local
 * sandbox): a one-time token, the VMID and where control's guest API is. Local sandboxes reach
 * control through a Unix socket the runner mounts at a fixed path inside the sandbox.
 */
import { SANDBOX_CONTROL_ENDPOINT } from "@agentlab/core";
import type { SqliteDatabase } from "../db/open-database.js";
import { mintBootstrapToken } from "./bootstrap-tokens.js";

/** Where control's and the artifacts service's guest sockets appear inside a local sandbox. */
export {
  SANDBOX_ARTIFACTS_ENDPOINT as LOCAL_SANDBOX_ARTIFACTS_ENDPOINT,
  SANDBOX_CONTROL_ENDPOINT as LOCAL_SANDBOX_CONTROL_ENDPOINT,
} from "@agentlab/core";

export interface BootstrapDocument {
  token: string;
  vmid: number;
  controller: string;
}

export function issueBootstrapDocument(
  db: SqliteDatabase,
  binding: { vmid: number; jobId: string | null; backend: string },
  endpoints: { controllerUrl: string },
  now: Date,
  ttlMs: number,
): string {
  const token = mintBootstrapToken(db, { vmid: binding.vmid, jobId: binding.jobId }, now, ttlMs);
  const document: BootstrapDocument = {
    token,
    vmid: binding.vmid,
    controller: binding.backend === "local" ? SANDBOX_CONTROL_ENDPOINT : endpoints.controllerUrl,
  };
  return JSON.stringify(document);
}
