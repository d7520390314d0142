import { FileLock } from "./file-lock.js";
import { storageFlockPath, vmFlockPath } from "./pve-messages.js";
import type { AgentBehaviour, StorageOptions } from "./sim-options.js";
import type { SimTask } from "./task-runner.js";
import type { VmConfig } from "./vm-config.js";

/** The in-process model of one PVE node (reference/proxmox.md §5.2). */
export type RunState = "stopped" | "running" | "paused";

export interface SimVolume {
  volid: string;
  vmid: number;
  sizeBytes: number;
  /** For linked clones: the base volume this one depends on. */
  base?: string;
}

export interface SimStorage {
  id: string;
  type: StorageOptions["type"];
  shared: boolean;
  content: Set<string>;
  supportsLinkedClone: boolean;
  supportsSnapshot: boolean;
  allocMs: number | undefined;
  totalBytes: number;
  lock: FileLock;
  volumes: Map<string, SimVolume>;
}

export interface SimSnapshot {
  name: string;
  snaptime: number;
  description: string;
  vmstate: boolean;
  parent: string | undefined;
  config: VmConfig;
  runState: RunState;
}

export interface SimVm {
  vmid: number;
  config: VmConfig;
  /** Changes waiting for the next start (non-hotpluggable keys on a running VM). */
  pending: VmConfig;
  pendingDelete: Set<string>;
  runState: RunState;
  bootedAt: number | undefined;
  pid: number | undefined;
  flock: FileLock;
  snapshots: Map<string, SimSnapshot>;
  parent: string | undefined;
  agent: AgentBehaviour;
  /** 198.51.100.0/24 (TEST-NET-2): nothing ever connects to it. */
  ipv4: string;
  owner: "seed" | "sim";
  createdAt: number;
}

/** One entry of a VM's firewall rules (`/etc/pve/firewall/<vmid>.fw`, pve-firewall's rule properties). */
export interface SimFirewallRule {
  type: string;
  action: string;
  enable: number;
  [key: string]: string | number;
}

/**
 * The `[OPTIONS]` section of `/etc/pve/firewall/<vmid>.fw` (pve-firewall's vm_option_properties):
 * booleans as 0/1 numbers, policies and log levels as strings, as PVE's parser reads them back.
 * An absent key means PVE's default — for `enable`, off.
 */
export type SimFirewallOptions = Record<string, string | number>;

/** A cluster security group (`[group <name>]` in `/etc/pve/firewall/cluster.fw`). */
export interface SimFirewallGroup {
  comment: string | undefined;
}

export interface RequestLogEntry {
  seq: number;
  time: number;
  source: "api" | "cli";
  method: string;
  path: string;
  params: Record<string, unknown>;
  authId: string | undefined;
  status: number;
  reason: string;
}

export interface SimState {
  node: string;
  storages: Map<string, SimStorage>;
  vms: Map<number, SimVm>;
  /** `local:snippets/x.yaml` → contents (the control API's snippets; see also snippetsDir). */
  snippets: Map<string, string>;
  tasks: Map<string, SimTask>;
  requests: RequestLogEntry[];
  /** The VMID the last nextid call handed out (for the `nextIdStale` fault). */
  lastNextId: number | undefined;
  /** `/cluster/resources` RRD cache: name/status/template as of the last refresh. */
  rrd: { refreshedAt: number; entries: Map<number, { name?: string; status: string; template: boolean }> };
  /** VM flocks outlive VMs (the lock file stays on a real host). */
  vmLocks: Map<number, FileLock>;
  /** Cluster security groups by name. */
  firewallGroups: Map<string, SimFirewallGroup>;
  /** Per-VMID firewall rules, position 0 first (the `.fw` file exists apart from the VM config). */
  vmFirewallRules: Map<number, SimFirewallRule[]>;
  /** Per-VMID firewall options (the same `.fw` file as the rules). */
  vmFirewallOptions: Map<number, SimFirewallOptions>;
}

export function createStorage(options: StorageOptions): SimStorage {
  const linkedDefault = options.type !== "lvm";
  const snapshotDefault = options.type !== "lvm" && options.type !== "dir" && options.type !== "nfs";
  return {
    id: options.id,
    type: options.type,
    shared: options.shared ?? options.type === "nfs",
    content: new Set(options.content),
    supportsLinkedClone: options.supportsLinkedClone ?? linkedDefault,
    supportsSnapshot: options.supportsSnapshot ?? snapshotDefault,
    allocMs: options.allocMs,
    totalBytes: options.totalBytes ?? 500 * 1024 ** 3,
    lock: new FileLock(storageFlockPath(options.id)),
    volumes: new Map(),
  };
}

export function createSimState(
  node: string,
  storages: StorageOptions[],
  firewallGroups: readonly string[] = [],
): SimState {
  return {
    node,
    storages: new Map(storages.map((s) => [s.id, createStorage(s)])),
    vms: new Map(),
    snippets: new Map(),
    tasks: new Map(),
    requests: [],
    lastNextId: undefined,
    rrd: { refreshedAt: Number.NEGATIVE_INFINITY, entries: new Map() },
    vmLocks: new Map(),
    firewallGroups: new Map(firewallGroups.map((name) => [name, { comment: undefined }])),
    vmFirewallRules: new Map(),
    vmFirewallOptions: new Map(),
  };
}

/**
 * Clone copies the source's whole `.fw` file (pve-firewall clone_vmfw_conf): its rules and its
 * options, so a template's `enable: 1` reaches every clone. A stale file of the target ID goes first.
 */
export function copyVmFirewallFile(state: SimState, from: number, to: number): void {
  removeVmFirewallFile(state, to);
  const rules = state.vmFirewallRules.get(from);
  if (rules)
    state.vmFirewallRules.set(
      to,
      rules.map((rule) => ({ ...rule })),
    );
  const options = state.vmFirewallOptions.get(from);
  if (options) state.vmFirewallOptions.set(to, { ...options });
}

/** Destroy removes the `.fw` file: nothing of it may pass to a later VM with this ID. */
export function removeVmFirewallFile(state: SimState, vmid: number): void {
  state.vmFirewallRules.delete(vmid);
  state.vmFirewallOptions.delete(vmid);
}

export function vmFlock(state: SimState, vmid: number): FileLock {
  let lock = state.vmLocks.get(vmid);
  if (!lock) {
    lock = new FileLock(vmFlockPath(vmid));
    state.vmLocks.set(vmid, lock);
  }
  return lock;
}

/** A serialisable view of the state for `GET /__sim/state` and assertions. */
export function stateSnapshot(state: SimState): Record<string, unknown> {
  return {
    node: state.node,
    storages: [...state.storages.values()].map((s) => ({
      id: s.id,
      type: s.type,
      content: [...s.content].sort(),
      lock: s.lock.snapshot(),
      volumes: [...s.volumes.values()],
    })),
    vms: [...state.vms.values()].map((vm) => ({
      vmid: vm.vmid,
      config: Object.fromEntries(vm.config),
      pending: Object.fromEntries(vm.pending),
      runState: vm.runState,
      lock: vm.config.get("lock"),
      flock: vm.flock.snapshot(),
      snapshots: [...vm.snapshots.keys()],
      firewallRules: state.vmFirewallRules.get(vm.vmid) ?? [],
      firewallOptions: state.vmFirewallOptions.get(vm.vmid) ?? {},
      ipv4: vm.ipv4,
      owner: vm.owner,
    })),
    snippets: Object.fromEntries(state.snippets),
    firewallGroups: [...state.firewallGroups.keys()].sort(),
    tasks: [...state.tasks.values()].map((t) => ({
      upid: t.upid,
      type: t.type,
      id: t.id,
      status: t.status,
      exitstatus: t.exitstatus,
    })),
  };
}
