/**
 * The one interface behind RunnerService. Three implementations: proxmox-api, proxmox-shell and
 * local. Every call takes a CallContext (deadline + request id); every failure is a BackendError
 * (see backend-errors.ts) whose kind maps to one Connect code. The VMID always comes from control:
 * a backend reports `already_exists` and never picks an id itself.
 */

/** Carried by every call. */
export interface CallContext {
  /** Idempotency key of the caller's request: a retried ProvisionVm with the same id never clones twice. */
  requestId: string;
  /** Absolute deadline, epoch milliseconds. Work still pending then fails with kind `deadline`. */
  deadline: number;
  /** Aborted when the caller goes away or the deadline passes. */
  signal?: AbortSignal;
}

export type VmPowerState = "running" | "stopped" | "paused" | "unknown";

export interface ProvisionSpec {
  vmid: number;
  /** DNS-safe VM name (Proxmox rejects `_`). */
  name: string;
  /** Proxmox template to clone; ignored by the local backend. */
  templateVmid?: number;
  cores?: number;
  memoryMb?: number;
  network: {
    /** Proxmox bridge, e.g. `vmbr1`. */
    bridge?: string;
    /** NIC model, default `virtio`. */
    model?: string;
    /** Proxmox firewall group, if any. */
    firewallGroup?: string;
    /**
     * The NIC's Proxmox firewall flag (`firewall=1`): true sets it, false clears it, undefined keeps
     * the template's. A firewall group sets it whatever this says.
     */
    firewall?: boolean;
    /** Local backend: `none` (loopback only) or `host`. */
    localMode?: "none" | "host";
  };
  /** Root disk size in GiB to grow to, if larger than the template's. */
  rootSizeGb?: number;
  /** The bootstrap document delivered to the guest (cloud-init snippet, or a file in the sandbox). */
  bootstrapJson: string;
  /** The ownership tag written on the VM: `agentlab-<deployment_id>`. */
  ownerTag: string;
  /** Free text for the VM's description (Proxmox) — never secrets. */
  description?: string;
  /** Local backend: Unix sockets to mount into the sandbox, host path → path inside. */
  mounts?: Array<{ hostPath: string; sandboxPath: string; readOnly?: boolean }>;
  /**
   * Local backend: host directories shown read-only at the same path inside the sandbox (a job's
   * repository given as a local path). Never inside a hidden path. Proxmox backends ignore it.
   */
  readOnlyPaths?: string[];
  /** Local backend: the program to run as the sandbox's init (the guest runner). */
  guestCommand?: string[];
}

export interface VmInfo {
  vmid: number;
  name: string;
  state: VmPowerState;
  /** True when the VM carries our ownership tag. */
  owned: boolean;
  /** Tags as the hypervisor reports them. */
  tags: string[];
  /** Lock property if set (Proxmox `lock:`), e.g. `clone`. */
  lock?: string;
}

export interface BackendInfo {
  kind: "proxmox-api" | "proxmox-shell" | "local";
  node: string;
  /** Hypervisor version string, e.g. `pve-manager/8.2.4`, or the kernel for local. */
  version: string;
  capacity: { cores: number; memoryMb: number; runningVms: number; maxVms: number };
}

export interface GuestAddress {
  ipv4?: string;
  ipv6?: string;
  mac?: string;
}

/** What destroy found: a VM it removed, or none (the backend answered that it does not exist). */
export type DestroyOutcome = "destroyed" | "already_gone";

export interface Backend {
  info(ctx: CallContext): Promise<BackendInfo>;
  /** Clone (or create), configure and deliver bootstrap data. Leaves the VM stopped. */
  provision(ctx: CallContext, spec: ProvisionSpec): Promise<VmInfo>;
  start(ctx: CallContext, vmid: number): Promise<void>;
  /** Hard stop; stopping a stopped VM succeeds. Refused (`not_owned`) for VMs without our tag. */
  stop(ctx: CallContext, vmid: number, opts?: { adopt?: AdoptionHint }): Promise<void>;
  /**
   * Stop if needed and remove with disks; a VM that is already gone is success, and says so (the
   * same answer a status call before it would give, without the extra round trip).
   */
  destroy(ctx: CallContext, vmid: number, opts?: { adopt?: AdoptionHint }): Promise<DestroyOutcome>;
  /** Fails with kind `not_found` when the hypervisor says the VM does not exist. */
  status(ctx: CallContext, vmid: number): Promise<VmInfo>;
  /** Polls until the guest reports an address, or the deadline passes. */
  waitGuestIp(ctx: CallContext, vmid: number): Promise<GuestAddress>;
  /** VMs carrying our tag (and, with `includeForeign`, all others, marked `owned: false`). */
  listVms(ctx: CallContext, opts?: { includeForeign?: boolean }): Promise<VmInfo[]>;
  snapshotCreate(ctx: CallContext, vmid: number, name: string): Promise<void>;
  snapshotRollback(ctx: CallContext, vmid: number, name: string): Promise<void>;
  snapshotDelete(ctx: CallContext, vmid: number, name: string): Promise<void>;
  volumeCreate(ctx: CallContext, spec: { storage: string; name: string; sizeGb: number }): Promise<{ volid: string }>;
  volumeAttach(ctx: CallContext, vmid: number, volid: string, slot: string): Promise<void>;
  volumeDetach(ctx: CallContext, vmid: number, slot: string): Promise<void>;
  volumeDelete(ctx: CallContext, volid: string): Promise<void>;
  /** Checks a template can serve: exists, is a template, has the guest agent and a cloud-init drive. */
  validateTemplate(ctx: CallContext, templateVmid: number): Promise<{ ok: boolean; problems: string[] }>;
  close(): Promise<void>;
}

/**
 * A VM record migrated from the original AgentLab carries no tag. Control may ask to act on it once,
 * naming the VMID and the name it recorded; the backend acts only when both match, and tags it.
 */
export interface AdoptionHint {
  vmid: number;
  name: string;
}
