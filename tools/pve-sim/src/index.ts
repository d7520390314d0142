/** The Proxmox VE simulator: REST API, fake qm/pvesh/pvesm, fault injection (reference/proxmox.md §5). */

export type { CliResult } from "./cli-common.js";
export { createPveSim, FAKE_BIN_DIR, type PveSim } from "./create-pve-sim.js";
export type { FaultEffect, FaultInjector, FaultMatch, FaultRule } from "./fault-injector.js";
export * as pveMessages from "./pve-messages.js";
export { createManualClock, createRealClock, type ManualClock, type SimClock } from "./sim-clock.js";
export {
  type AgentBehaviour,
  DEFAULT_DURATIONS,
  DEFAULT_FIREWALL_GROUPS,
  DEFAULT_TOKEN_ID,
  DEFAULT_TOKEN_SECRET,
  type PveSimOptions,
  type SimDurations,
  type StorageOptions,
  type TemplateOptions,
} from "./sim-options.js";
export type { RequestLogEntry, SimFirewallOptions, SimFirewallRule, SimState, SimVm } from "./sim-state.js";
export type { SimTask } from "./task-runner.js";
export { formatUpid, parseUpid, type Upid } from "./upid.js";
export type { VmSeed } from "./vm-seeding.js";
