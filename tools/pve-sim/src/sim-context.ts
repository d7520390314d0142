import type { FaultInjector } from "./fault-injector.js";
import type { GuestLauncher } from "./guest-launcher.js";
import type { ParamValues } from "./param-schema.js";
import type { RandomSource } from "./seeded-random.js";
import type { SimClock } from "./sim-clock.js";
import type { ResolvedOptions, SimDurations } from "./sim-options.js";
import type { SimState } from "./sim-state.js";
import type { SnippetStore } from "./snippet-store.js";
import type { TaskRunner } from "./task-runner.js";

/** Everything a handler may use: the model and its injected dependencies. */
export interface SimContext {
  options: ResolvedOptions;
  state: SimState;
  clock: SimClock;
  random: RandomSource;
  tasks: TaskRunner;
  faults: FaultInjector;
  snippets: SnippetStore;
  guests: GuestLauncher;
  /** SHA-256 colon hex of the HTTPS certificate (GET /nodes `ssl_fingerprint`). */
  fingerprint: string;
  /** A §5.4 duration after `timeScale`. */
  ms(name: keyof SimDurations): number;
  /** Any duration after `timeScale`. */
  scaled(ms: number): number;
}

/** One API call, from REST or from the fake CLI (both run the same handlers). */
export interface ApiCall {
  method: "GET" | "POST" | "PUT" | "DELETE";
  /** Path below `/api2/json`, e.g. `/nodes/pve/qemu/101/config`. */
  path: string;
  params: Record<string, unknown>;
  /** Form bodies / query strings / CLI: booleans must be 0|1. */
  strictForm: boolean;
  /** authid of the caller (`root@pam!runner`, or `root@pam` for the CLI). */
  authId: string;
  source: "api" | "cli";
}

export interface HandlerArgs {
  sim: SimContext;
  call: ApiCall;
  /** Path parameters (node, vmid, …) already verified and merged into `params`. */
  params: ParamValues;
}

export type ApiHandler = (args: HandlerArgs) => unknown | Promise<unknown>;
