import type { SimClock } from "./sim-clock.js";

/** Per-operation durations before `timeScale`, in ms (reference/proxmox.md §5.4). */
export interface SimDurations {
  cloneLinked: number;
  cloneFull: number;
  /** Time the storage flock is held per allocated disk (slow storage makes parallel clones fail). */
  storageAlloc: number;
  start: number;
  stop: number;
  shutdown: number;
  shutdownTimeout: number;
  destroy: number;
  config: number;
  snapshot: number;
  rollback: number;
  agentReady: number;
  ipv4After: number;
  agentPingTimeout: number;
  cloneFlockWait: number;
  flockWait: number;
  storageLockWait: number;
  authFailDelay: number;
  rrdLag: number;
}

export const DEFAULT_DURATIONS: SimDurations = {
  cloneLinked: 2_000,
  cloneFull: 30_000,
  storageAlloc: 200,
  start: 1_500,
  stop: 500,
  shutdown: 8_000,
  shutdownTimeout: 60_000,
  destroy: 1_500,
  config: 200,
  snapshot: 1_000,
  rollback: 2_000,
  agentReady: 20_000,
  ipv4After: 5_000,
  agentPingTimeout: 3_000,
  cloneFlockWait: 1_000,
  flockWait: 10_000,
  storageLockWait: 10_000,
  authFailDelay: 3_000,
  rrdLag: 10_000,
};

export type StorageType = "dir" | "zfspool" | "lvmthin" | "lvm" | "nfs";

export interface StorageOptions {
  id: string;
  type: StorageType;
  shared?: boolean;
  content: string[];
  /** Defaults by type: zfspool/lvmthin yes, dir/nfs yes (qcow2), lvm no. */
  supportsLinkedClone?: boolean;
  supportsSnapshot?: boolean;
  /** Overrides `durations.storageAlloc` for this storage. */
  allocMs?: number;
  /** Reported size, bytes. */
  totalBytes?: number;
}

/** Guest-agent behaviour of a VM (copied from its template to clones). */
export interface AgentBehaviour {
  /** The image has qemu-guest-agent; false → the agent never answers. */
  installed: boolean;
  /** Overrides durations.agentReady / ipv4After for this VM. */
  readyAfterMs?: number;
  ipv4AfterMs?: number;
  /** Never report an IPv4 (only lo + link-local). */
  noIpv4?: boolean;
  /** Report an extra docker0 bridge with 172.17.0.1 to test IP selection. */
  docker0?: boolean;
  /** Reacts to shutdown requests (false → shutdown times out unless forceStop). */
  respondsToShutdown?: boolean;
}

export interface TemplateOptions {
  vmid: number;
  name?: string;
  storage?: string;
  /** Extra/overriding config keys. */
  config?: Record<string, string>;
  agent?: Partial<AgentBehaviour>;
  diskSizeGiB?: number;
}

export interface GuestVmInfo {
  vmid: number;
  name: string | undefined;
  bootstrapFile: string;
}

export interface PveSimOptions {
  node?: string;
  /** `8.2` → error bodies without `message`; `8.3`+ and `9` → with it (reference §1.3). */
  pveVersion?: string;
  /** authid (`user@realm!tokenid`) → secret uuid. Default: one `root@pam!runner` token. */
  tokens?: Record<string, string>;
  timeScale?: number;
  /** `"manual"` gives a ManualClock; or pass any SimClock. Default: real time. */
  clock?: SimClock | "manual" | "real";
  seed?: number;
  storages?: StorageOptions[];
  templates?: TemplateOptions[];
  nextIdRange?: { lower: number; upper: number };
  durations?: Partial<SimDurations>;
  port?: number;
  /**
   * Listen address. Default and normal use: 127.0.0.1. Only the `pve-sim` binary sets another one,
   * when its operator passes `--host` explicitly (compose staging).
   */
  host?: string;
  /** Also serve plain HTTP (on its own port). */
  http?: boolean;
  /**
   * Benchmark knob, off by default: keep connections open between requests. Off, every answer
   * carries `Connection: close` and the connection ends, as pveproxy often does (§1.1).
   */
  keepAlive?: boolean;
  /** Real directory backing `local:snippets/` (the shell backend writes there directly). */
  snippetsDir?: string;
  /** Enable the `snippets` content type on `local` (default true). */
  localSnippets?: boolean;
  /** Secret for `/__sim/*` (header `x-pvesim-secret`); random by default. */
  controlSecret?: string;
  /** The fake CLI refuses non-root callers like a real host (default true). */
  cliRequireRoot?: boolean;
  /** argv to launch when a VM boots with a bootstrap snippet, or a function choosing it. */
  guestCommand?: string[] | ((vm: GuestVmInfo) => string[] | undefined);
  guestEnv?: Record<string, string>;
  /** Default agent behaviour for seeded templates. */
  agent?: Partial<AgentBehaviour>;
  /** Cluster firewall security groups that exist (default `DEFAULT_FIREWALL_GROUPS`). */
  firewallGroups?: string[];
}

export interface ResolvedOptions {
  node: string;
  pveVersion: string;
  withBodyMessage: boolean;
  tokens: Record<string, string>;
  timeScale: number;
  seed: number;
  durations: SimDurations;
  nextIdRange: { lower: number; upper: number };
  controlSecret: string;
  cliRequireRoot: boolean;
  keepAlive: boolean;
}

/** `8.3` and later (and all 9.x) put `message` into error bodies (reference §1.3). */
export function versionHasBodyMessage(version: string): boolean {
  const [major = 0, minor = 0] = version.split(".").map((part) => Number.parseInt(part, 10) || 0);
  return major > 8 || (major === 8 && minor >= 3);
}

export const DEFAULT_TOKEN_ID = "root@pam!runner";
export const DEFAULT_TOKEN_SECRET = "5b0b3c1e-7e38-4f0c-9d0e-3f6a2b8c1d42";

export function defaultStorages(localSnippets: boolean): StorageOptions[] {
  return [
    {
      id: "local",
      type: "dir",
      content: localSnippets ? ["iso", "vztmpl", "backup", "snippets"] : ["iso", "vztmpl", "backup"],
    },
    { id: "local-zfs", type: "zfspool", content: ["images", "rootdir"] },
  ];
}

/**
 * The groups AgentLab's profile network modes name (`off`, `nat`, `allowlist`). Note: PVE's API
 * creates groups of at most 18 characters (pve-firewall `max_group_name_length`), and
 * `agent_nat_allowlist` has 19; the simulator seeds it anyway, as a hand-written cluster.fw would.
 */
export const DEFAULT_FIREWALL_GROUPS: readonly string[] = ["agent_nat_default", "agent_nat_off", "agent_nat_allowlist"];

export const DEFAULT_TEMPLATE: TemplateOptions = { vmid: 9000, name: "ubuntu-2404-cloudinit", storage: "local-zfs" };
