/**
 * The sandbox state machine (agentlab-reference.md §1.3, plus what DESIGN §3 needs: a failed
 * provisioning step or a missed deadline ends the sandbox FAILED with a reason, and STOPPED can be
 * started again). States are stored as their bare names, as the original stored them.
 */
import { FailedPreconditionError } from "@agentlab/core";

export const SANDBOX_STATES = [
  "REQUESTED",
  "PROVISIONING",
  "BOOTING",
  "READY",
  "RUNNING",
  "SUSPENDED",
  "COMPLETED",
  "FAILED",
  "TIMEOUT",
  "STOPPED",
  "DESTROYED",
] as const;

export type SandboxStateName = (typeof SANDBOX_STATES)[number];

const ALLOWED: Record<SandboxStateName, readonly SandboxStateName[]> = {
  REQUESTED: ["PROVISIONING", "FAILED", "TIMEOUT", "DESTROYED"],
  PROVISIONING: ["BOOTING", "FAILED", "TIMEOUT", "DESTROYED"],
  BOOTING: ["READY", "FAILED", "TIMEOUT", "DESTROYED"],
  READY: ["RUNNING", "STOPPED", "FAILED", "TIMEOUT", "DESTROYED"],
  RUNNING: ["COMPLETED", "FAILED", "TIMEOUT", "STOPPED", "DESTROYED"],
  // Reserved for a later release; its edges are fixed now so that release only adds the entry paths.
  SUSPENDED: ["READY", "RUNNING", "STOPPED", "TIMEOUT", "DESTROYED"],
  COMPLETED: ["STOPPED", "DESTROYED"],
  FAILED: ["STOPPED", "DESTROYED"],
  TIMEOUT: ["STOPPED", "DESTROYED"],
  STOPPED: ["BOOTING", "READY", "RUNNING", "DESTROYED"],
  DESTROYED: [],
};

/** States in which a VM may exist and the sandbox is still in use. */
export const LIVE_STATES: readonly SandboxStateName[] = ["REQUESTED", "PROVISIONING", "BOOTING", "READY", "RUNNING"];
/** States still being brought up: they count against admission and have deadlines. */
export const STARTING_STATES: readonly SandboxStateName[] = ["REQUESTED", "PROVISIONING", "BOOTING"];
/** States that count against the cap on sandboxes (everything that is not over). */
export const NON_TERMINAL_STATES: readonly SandboxStateName[] = [...LIVE_STATES, "SUSPENDED"];
/** States a sandbox ends in, short of being destroyed. */
export const ENDED_STATES: readonly SandboxStateName[] = ["COMPLETED", "FAILED", "TIMEOUT", "STOPPED"];

export function isSandboxState(value: string): value is SandboxStateName {
  return (SANDBOX_STATES as readonly string[]).includes(value);
}

export function canTransition(from: SandboxStateName, to: SandboxStateName): boolean {
  return from === to || ALLOWED[from].includes(to);
}

export function allowedTargets(from: SandboxStateName): readonly SandboxStateName[] {
  return ALLOWED[from];
}

export function assertTransition(vmid: number, from: SandboxStateName, to: SandboxStateName): void {
  if (!canTransition(from, to)) {
    throw new FailedPreconditionError({
      message: `invalid sandbox state transition: ${from} -> ${to}`,
      what: "sandbox",
      value: vmid,
      hint: ALLOWED[from].length ? `from ${from} a sandbox can go to ${ALLOWED[from].join(", ")}` : `${from} is final`,
    });
  }
}
