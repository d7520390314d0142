/**
 * Every sandbox state change: checked against the state machine, applied compare-and-set, and
 * recorded as a `sandbox.state` event in the same transaction (announced after commit).
 */
import { ConflictError } from "@agentlab/core";
import type { SqliteDatabase } from "../db/open-database.js";
import { type Clock, nowTimestamp } from "../db/timestamps.js";
import type { EventBus } from "../events/event-bus.js";
import { appendEvent } from "../events/event-store.js";
import type { SandboxRecord } from "./sandbox-record.js";
import { assertTransition, type SandboxStateName } from "./sandbox-state-machine.js";
import { compareAndSetState, getSandbox, jobIdOfSandbox } from "./sandbox-store.js";

export interface SandboxStateContext {
  db: SqliteDatabase;
  bus: EventBus;
  clock: Clock;
}

export interface TransitionOptions {
  /** Why, when the sandbox ends other than by a normal completion: stored as termination_reason. */
  reason?: string;
  ip?: string;
  jobId?: string;
}

export function transitionSandbox(
  ctx: SandboxStateContext,
  vmid: number,
  from: SandboxStateName,
  to: SandboxStateName,
  options: TransitionOptions = {},
): SandboxRecord {
  assertTransition(vmid, from, to);
  if (from === to) return getSandbox(ctx.db, vmid);
  const now = nowTimestamp(ctx.clock);
  const event = ctx.db.transaction(() => {
    const moved = compareAndSetState(ctx.db, vmid, from, to, now, {
      ...(options.reason !== undefined ? { terminationReason: options.reason } : {}),
      ...(options.ip !== undefined ? { ip: options.ip } : {}),
    });
    if (!moved) {
      const current = getSandbox(ctx.db, vmid).state;
      throw new ConflictError({
        message: `sandbox ${vmid} is ${current}, not ${from}: another request changed it first`,
        what: "sandbox",
        value: vmid,
        hint: "look at it again with `agentlab sandbox show` and retry if still needed",
      });
    }
    // Every state event of a job's sandbox names the job, whoever moved it (the reconciler, a
    // destroy), so `agentlab events --job` shows the whole life of the sandbox the job ran in.
    const jobId = options.jobId || jobIdOfSandbox(ctx.db, vmid);
    return appendEvent(
      ctx.db,
      {
        kind: "sandbox.state",
        sandboxVmid: vmid,
        ...(jobId ? { jobId } : {}),
        msg: `${from} -> ${to}${options.reason ? `: ${options.reason}` : ""}`,
        payload: { from, to, ...(options.reason ? { reason: options.reason } : {}) },
      },
      ctx.clock,
    );
  })();
  ctx.bus.publish(event);
  return getSandbox(ctx.db, vmid);
}

/** Moves from whatever state the sandbox is in now; a no-op when it is already there. */
export function moveSandbox(
  ctx: SandboxStateContext,
  vmid: number,
  to: SandboxStateName,
  options: TransitionOptions = {},
): SandboxRecord {
  const current = getSandbox(ctx.db, vmid);
  if (current.state === to) return current;
  return transitionSandbox(ctx, vmid, current.state, to, options);
}
