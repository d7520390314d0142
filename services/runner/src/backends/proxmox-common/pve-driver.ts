import type { CallContext } from "../../backend.js";
import type { AgentInterface } from "./guest-ip-selector.js";

/**
 * The protocol-level operations both backends offer: the REST API driver and the `qm`/`pvesh`/
 * `pvesm` driver. Every method throws a BackendError whose kind follows pve-errors.ts; task-starting
 * methods return only once the task has finished (OK or WARNINGS = success, reference/proxmox.md §0
 * rules 1, 2 and 10). Decisions (retries, ownership, what "missing" means) live in
 * proxmox-vm-lifecycle.ts, shared by both.
 */

/** A VM config as Proxmox returns it; numbers for integer keys, strings for the rest (§1.2). */
export type PveConfig = Record<string, string | number | undefined>;

export interface PveVmStatus {
  status: string;
  qmpstatus?: string;
  name?: string;
  lock?: string;
  tags?: string;
  template?: number;
}

export interface PveVmListEntry {
  vmid: number;
  name?: string;
  status?: string;
  lock?: string;
  tags?: string;
  template?: number;
}

export interface PveNodeStatus {
  cpus: number;
  memoryBytes: number;
}

/** A task of `GET /nodes/{n}/tasks` (§1.4): `id` is the VMID it acts on — the *source* for `qmclone`. */
export interface PveTaskEntry {
  upid: string;
  type: string;
  id: string;
  status?: string;
}

/** One VM firewall rule (pve-firewall); a security group is applied as `type: group`, `action: <group>`. */
export interface PveFirewallRule {
  pos: number;
  type: string;
  action: string;
  enable?: number;
}

/**
 * A VM's firewall options (`GET …/firewall/options`, pve-firewall): booleans as 0/1, `policy_in`/
 * `policy_out` ACCEPT|REJECT|DROP. `enable` absent means off: the VM's rules then filter nothing.
 */
export interface PveFirewallOptions {
  enable?: number;
  policy_in?: string;
  policy_out?: string;
  digest?: string;
  [option: string]: string | number | undefined;
}

export interface CloneRequest {
  templateVmid: number;
  newVmid: number;
  name: string;
  full: boolean;
  description: string;
}

export interface PveDriver {
  readonly kind: "proxmox-api" | "proxmox-shell";
  /** The node this runner serves (configured, or the first of `GET /nodes`). */
  node(ctx: CallContext): Promise<string>;
  /** e.g. `pve-manager/8.2.4`. */
  version(ctx: CallContext): Promise<string>;
  nodeStatus(ctx: CallContext): Promise<PveNodeStatus>;
  getConfig(ctx: CallContext, vmid: number): Promise<PveConfig>;
  getStatus(ctx: CallContext, vmid: number): Promise<PveVmStatus>;
  listVms(ctx: CallContext): Promise<PveVmListEntry[]>;
  clone(ctx: CallContext, request: CloneRequest): Promise<void>;
  /** Sets config keys (strings on the wire) and deletes `remove` keys. */
  setConfig(ctx: CallContext, vmid: number, values: Record<string, string>, remove?: string[]): Promise<void>;
  resize(ctx: CallContext, vmid: number, disk: string, size: string): Promise<void>;
  start(ctx: CallContext, vmid: number): Promise<void>;
  stop(ctx: CallContext, vmid: number): Promise<void>;
  destroy(ctx: CallContext, vmid: number): Promise<void>;
  guestInterfaces(ctx: CallContext, vmid: number): Promise<AgentInterface[]>;
  snapshotCreate(ctx: CallContext, vmid: number, name: string): Promise<void>;
  snapshotRollback(ctx: CallContext, vmid: number, name: string): Promise<void>;
  snapshotDelete(ctx: CallContext, vmid: number, name: string): Promise<void>;
  /** Tasks running on the node now (`GET /nodes/{n}/tasks?source=active`). */
  activeTasks(ctx: CallContext): Promise<PveTaskEntry[]>;
  /** Names of the cluster firewall's security groups (`GET /cluster/firewall/groups`). */
  firewallGroups(ctx: CallContext): Promise<string[]>;
  firewallRules(ctx: CallContext, vmid: number): Promise<PveFirewallRule[]>;
  /** Adds an enabled `type=group` rule (a synchronous call, not a task). */
  addFirewallGroupRule(ctx: CallContext, vmid: number, group: string): Promise<void>;
  firewallOptions(ctx: CallContext, vmid: number): Promise<PveFirewallOptions>;
  /** Sets the VM firewall option `enable=1` and nothing else (a synchronous call, not a task). */
  enableFirewall(ctx: CallContext, vmid: number): Promise<void>;
  /**
   * Clears a persistent `lock:` (`qm unlock`). Absent where the transport cannot: over the API it
   * needs `skiplock`, which Proxmox allows to root@pam alone — never to an API token (§1.5).
   */
  unlock?: (ctx: CallContext, vmid: number) => Promise<void>;
  /** Allocates a volume owned by `ownerVmid` (≥ 100); returns its volid. */
  volumeAlloc(ctx: CallContext, storage: string, ownerVmid: number, fileName: string, size: string): Promise<string>;
  volumeFree(ctx: CallContext, volid: string): Promise<void>;
  close(): Promise<void>;
}
