/** A sandbox row as the rest of control sees it. */
import type { SandboxStateName } from "./sandbox-state-machine.js";

export interface SandboxRecord {
  vmid: number;
  name: string;
  profile: string;
  state: SandboxStateName;
  ip: string | null;
  workspaceId: string | null;
  keepalive: boolean;
  /** Fixed-width timestamp, or null for no lease. */
  leaseExpiresAt: string | null;
  createdAt: string;
  updatedAt: string;
  /** Ownership tag written on the VM; null for rows migrated from the original (adoptable once). */
  ownerTag: string | null;
  terminationReason: string | null;
  /** Runner name; null for migrated rows (the first runner). */
  runner: string | null;
  /** Idempotency key of the request that created it. */
  requestId: string | null;
  /** Backend and other details kept in the original's meta_json column. */
  meta: SandboxMeta;
}

export interface SandboxMeta {
  /** "proxmox" or "local", from the profile at creation. */
  backend?: string;
  /** When the current state was entered (deadlines count from here). */
  stateEnteredAt?: string;
  [key: string]: unknown;
}
