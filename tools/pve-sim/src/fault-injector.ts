import type { RandomSource } from "./seeded-random.js";

/**
 * Fault rules (reference/proxmox.md §5.5): a match, a firing schedule (nth / every / seeded
 * probability, capped by `times`) and one effect. Each effect belongs to the phase that can apply
 * it: the HTTP request, a task, the guest agent, nextid, or a CLI call.
 */
export type FaultEffect =
  | { type: "http"; status: number; reason?: string; body?: unknown }
  | { type: "delay"; ms: number }
  | { type: "hang" }
  | { type: "reset" }
  | { type: "taskFail"; message: string }
  | { type: "taskWarn"; count?: number }
  | { type: "taskStuck" }
  | { type: "taskSlow"; factor: number }
  | { type: "leakLock"; lock?: string }
  | { type: "agentNever" }
  | { type: "ipLate"; ms: number }
  | { type: "noIpv4" }
  | { type: "nextIdStale" }
  | { type: "cliIpcc" };

export interface FaultMatch {
  method?: string;
  /** Regular expression tested against the API path (`/nodes/pve/qemu/101/status/start`). */
  path?: string;
  vmid?: number;
  taskType?: string;
  /** Regular expression tested against the CLI argv joined with spaces (`qm start 101`). */
  cli?: string;
}

export interface FaultRule {
  id?: string;
  match?: FaultMatch;
  /** Fire only on the nth matching event (1-based). */
  nth?: number;
  /** Fire on every kth matching event. */
  every?: number;
  /** Fire with this probability (seeded RNG). */
  probability?: number;
  /** Stop firing after this many times. */
  times?: number;
  effect: FaultEffect;
}

export type FaultPhase = "request" | "task" | "agent" | "nextid" | "cli";

const PHASE_OF: Record<FaultEffect["type"], FaultPhase> = {
  http: "request",
  delay: "request",
  hang: "request",
  reset: "request",
  taskFail: "task",
  taskWarn: "task",
  taskStuck: "task",
  taskSlow: "task",
  leakLock: "task",
  agentNever: "agent",
  ipLate: "agent",
  noIpv4: "agent",
  nextIdStale: "nextid",
  cliIpcc: "cli",
};

export interface FaultEvent {
  method?: string;
  path?: string;
  vmids?: number[];
  taskType?: string;
  argv?: string[];
}

interface ActiveRule {
  id: string;
  rule: FaultRule;
  seen: number;
  fired: number;
}

export interface FaultInjector {
  add(rule: FaultRule): string;
  remove(id: string): boolean;
  clear(): void;
  list(): Array<FaultRule & { id: string; seen: number; fired: number }>;
  /** Every effect of `phase` that fires for this event, in rule order. */
  take(phase: FaultPhase, event: FaultEvent): FaultEffect[];
}

function matches(match: FaultMatch | undefined, event: FaultEvent): boolean {
  if (!match) return true;
  if (match.method && match.method.toUpperCase() !== event.method?.toUpperCase()) return false;
  if (match.path && (event.path === undefined || !new RegExp(match.path).test(event.path))) return false;
  if (match.vmid !== undefined && !event.vmids?.includes(match.vmid)) return false;
  if (match.taskType && match.taskType !== event.taskType) return false;
  if (match.cli && (!event.argv || !new RegExp(match.cli).test(event.argv.join(" ")))) return false;
  return true;
}

export function createFaultInjector(random: RandomSource): FaultInjector {
  let rules: ActiveRule[] = [];
  let counter = 0;
  return {
    add(rule) {
      if (!PHASE_OF[rule.effect?.type]) {
        throw new Error(
          `unknown fault effect ${JSON.stringify(rule.effect?.type)}; use one of ${Object.keys(PHASE_OF).join(", ")}`,
        );
      }
      const id = rule.id ?? `fault-${++counter}`;
      rules.push({ id, rule, seen: 0, fired: 0 });
      return id;
    },
    remove(id) {
      const before = rules.length;
      rules = rules.filter((r) => r.id !== id);
      return rules.length < before;
    },
    clear() {
      rules = [];
    },
    list: () => rules.map((r) => ({ ...r.rule, id: r.id, seen: r.seen, fired: r.fired })),
    take(phase, event) {
      const effects: FaultEffect[] = [];
      for (const active of rules) {
        const { rule } = active;
        if (PHASE_OF[rule.effect.type] !== phase || !matches(rule.match, event)) continue;
        active.seen++;
        if (rule.times !== undefined && active.fired >= rule.times) continue;
        if (rule.nth !== undefined && active.seen !== rule.nth) continue;
        if (rule.every !== undefined && active.seen % rule.every !== 0) continue;
        if (rule.probability !== undefined && random() >= rule.probability) continue;
        active.fired++;
        effects.push(rule.effect);
      }
      return effects;
    },
  };
}
