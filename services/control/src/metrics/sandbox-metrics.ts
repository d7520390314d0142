/**
 * Sandbox state transitions and time to READY, derived from `sandbox.state` events on the bus —
 * the one place every transition is announced (sandbox-transitions.ts), after its commit.
 */
import { Counter, Histogram, type Registry } from "prom-client";
import type { SqliteDatabase } from "../db/open-database.js";
import type { StoredEvent } from "../events/event-store.js";
import { isSandboxState, type SandboxStateName, STARTING_STATES } from "../sandboxes/sandbox-state-machine.js";
import { findSandbox } from "../sandboxes/sandbox-store.js";

/** Seconds; a local sandbox is READY in about a second, a Proxmox clone in tens of seconds to minutes. */
const TIME_TO_READY_BUCKETS = [0.5, 1, 2, 5, 10, 20, 30, 45, 60, 90, 120, 180, 300, 600, 1200];

export interface SandboxMetrics {
  observe(event: StoredEvent): void;
}

export function createSandboxMetrics(registry: Registry, db: SqliteDatabase): SandboxMetrics {
  const transitions = new Counter({
    name: "agentlab_control_sandbox_transitions_total",
    help: "Sandbox state transitions committed by control, by previous and new state.",
    labelNames: ["from", "to"] as const,
    registers: [registry],
  });
  const timeToReady = new Histogram({
    name: "agentlab_control_sandbox_time_to_ready_seconds",
    help: "Seconds from a sandbox's creation (REQUESTED) to READY, for sandboxes provisioned by this control process.",
    buckets: TIME_TO_READY_BUCKETS,
    registers: [registry],
  });
  // Sandboxes seen entering PROVISIONING and not yet past BOOTING. A restart (STOPPED -> BOOTING ->
  // READY) also ends in BOOTING -> READY, but measured from created_at it would report the sandbox's
  // age, not a provisioning time. Losing this set on a control restart loses nothing: control fails
  // every sandbox left half-built by a previous process (enforceStartingDeadlines at start).
  const provisioning = new Set<number>();

  return {
    observe(event) {
      if (event.kind !== "sandbox.state") return;
      const change = transitionOf(event.payload);
      if (!change) return;
      transitions.inc({ from: change.from, to: change.to });
      const vmid = event.sandboxVmid;
      if (vmid === null) return;
      if (change.to === "PROVISIONING") {
        provisioning.add(vmid);
        return;
      }
      if (STARTING_STATES.includes(change.to)) return;
      const wasProvisioned = provisioning.delete(vmid);
      if (change.from !== "BOOTING" || change.to !== "READY" || !wasProvisioned) return;
      const createdAt = findSandbox(db, vmid)?.createdAt;
      const seconds = createdAt ? (Date.parse(event.ts) - Date.parse(createdAt)) / 1000 : Number.NaN;
      if (Number.isFinite(seconds) && seconds >= 0) timeToReady.observe(seconds);
    },
  };
}

/** Only states this version knows become label values: a hand-edited payload cannot add series. */
function transitionOf(payload: unknown): { from: SandboxStateName; to: SandboxStateName } | undefined {
  if (payload === null || typeof payload !== "object") return undefined;
  const { from, to } = payload as { from?: unknown; to?: unknown };
  if (typeof from !== "string" || typeof to !== "string") return undefined;
  if (!isSandboxState(from) || !isSandboxState(to)) return undefined;
  return { from, to };
}
