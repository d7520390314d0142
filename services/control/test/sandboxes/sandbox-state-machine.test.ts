/**
 * The sandbox state machine, edge by edge. The expected table is written out here on its own, from
 * agentlab-reference.md §1.3 (E0/E1 edges plus SUSPENDED's later ones) and DESIGN §3 (a failed step or
 * missed deadline ends FAILED from REQUESTED/PROVISIONING/BOOTING/READY/RUNNING; STOPPED can be
 * started again: → BOOTING/READY/RUNNING), so a change to the code's table shows up as a failure.
 */
import { Code } from "@connectrpc/connect";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  allowedTargets,
  assertTransition,
  canTransition,
  SANDBOX_STATES,
  type SandboxStateName,
} from "../../src/sandboxes/sandbox-state-machine.js";
import { transitionSandbox } from "../../src/sandboxes/sandbox-transitions.js";
import { openSandboxStateDb, type SandboxStateDb } from "./sandbox-state-db.js";

const EXPECTED: Record<SandboxStateName, readonly SandboxStateName[]> = {
  REQUESTED: ["PROVISIONING", "FAILED", "TIMEOUT", "DESTROYED"],
  PROVISIONING: ["BOOTING", "FAILED", "TIMEOUT", "DESTROYED"],
  BOOTING: ["READY", "FAILED", "TIMEOUT", "DESTROYED"],
  READY: ["RUNNING", "STOPPED", "FAILED", "TIMEOUT", "DESTROYED"],
  RUNNING: ["COMPLETED", "FAILED", "TIMEOUT", "STOPPED", "DESTROYED"],
  SUSPENDED: ["READY", "RUNNING", "STOPPED", "TIMEOUT", "DESTROYED"],
  COMPLETED: ["STOPPED", "DESTROYED"],
  FAILED: ["STOPPED", "DESTROYED"],
  TIMEOUT: ["STOPPED", "DESTROYED"],
  STOPPED: ["BOOTING", "READY", "RUNNING", "DESTROYED"],
  DESTROYED: [],
};

interface Edge {
  from: SandboxStateName;
  to: SandboxStateName;
}

const pairs: Edge[] = SANDBOX_STATES.flatMap((from) => SANDBOX_STATES.map((to) => ({ from, to })));
const allowed = pairs.filter(({ from, to }) => from !== to && EXPECTED[from].includes(to));
const forbidden = pairs.filter(({ from, to }) => from !== to && !EXPECTED[from].includes(to));

describe("sandbox state machine table", () => {
  it("knows exactly the eleven states of the reference, in order", () => {
    expect(SANDBOX_STATES).toEqual(Object.keys(EXPECTED));
  });

  it.each(SANDBOX_STATES)("lists the allowed targets of %s", (from) => {
    expect([...allowedTargets(from)].sort()).toEqual([...EXPECTED[from]].sort());
  });

  it.each(allowed)("allows $from -> $to", ({ from, to }) => {
    expect(canTransition(from, to)).toBe(true);
    expect(() => assertTransition(1, from, to)).not.toThrow();
  });

  it.each(forbidden)("forbids $from -> $to", ({ from, to }) => {
    expect(canTransition(from, to)).toBe(false);
    expect(() => assertTransition(1, from, to)).toThrow(`invalid sandbox state transition: ${from} -> ${to}`);
  });

  it.each(SANDBOX_STATES)("treats %s -> itself as a no-op, not an error", (state) => {
    expect(canTransition(state, state)).toBe(true);
  });

  it("has FAILED reachable from every state a sandbox is brought up or used in", () => {
    for (const from of ["REQUESTED", "PROVISIONING", "BOOTING", "READY", "RUNNING"] as const) {
      expect(canTransition(from, "FAILED"), from).toBe(true);
    }
    expect(allowedTargets("DESTROYED")).toEqual([]);
  });
});

describe("transitionSandbox against a real database", () => {
  const start = new Date("2026-06-01T12:00:00.000Z");
  let t = start.getTime();
  let s: SandboxStateDb;
  beforeEach(async () => {
    t = start.getTime();
    s = await openSandboxStateDb(() => new Date(t));
  });
  afterEach(() => s.close());

  it("applies every allowed edge, records the state entry time and one sandbox.state event", () => {
    let vmid = 100;
    for (const { from, to } of allowed) {
      vmid++;
      s.seed(vmid, from);
      t += 1_000;
      const moved = transitionSandbox(s, vmid, from, to, { reason: `to ${to}` });
      expect(moved.state, `${from} -> ${to}`).toBe(to);
      expect(moved.meta.stateEnteredAt).toBe(new Date(t).toISOString());
      expect(moved.terminationReason).toBe(`to ${to}`);
      expect(s.eventCount(vmid)).toBe(1);
    }
  });

  it("refuses every forbidden edge with FAILED_PRECONDITION and leaves the row and events untouched", () => {
    let vmid = 100;
    for (const { from, to } of forbidden) {
      vmid++;
      s.seed(vmid, from);
      const before = s.raw(vmid);
      t += 1_000;
      let code: Code | undefined;
      try {
        transitionSandbox(s, vmid, from, to, { reason: "should not be stored" });
      } catch (err) {
        code = (err as { code?: Code }).code;
      }
      expect(code, `${from} -> ${to}`).toBe(Code.FailedPrecondition);
      expect(s.raw(vmid)).toEqual(before);
      expect(s.eventCount(vmid)).toBe(0);
    }
  });

  it("answers a lost compare-and-set with ABORTED and leaves the row and events untouched", () => {
    // The caller read READY, but another request stopped the sandbox in between.
    s.seed(200, "STOPPED");
    const before = s.raw(200);
    t += 1_000;
    let caught: unknown;
    try {
      transitionSandbox(s, 200, "READY", "RUNNING", { ip: "10.0.0.9", reason: "lost race" });
    } catch (err) {
      caught = err;
    }
    expect((caught as { code?: Code }).code).toBe(Code.Aborted);
    expect(String((caught as Error).message)).toContain("is STOPPED, not READY");
    expect(s.raw(200)).toEqual(before);
    expect(s.eventCount(200)).toBe(0);
  });

  it("treats a move to the current state as a no-op without an event", () => {
    s.seed(300, "READY");
    const before = s.raw(300);
    expect(transitionSandbox(s, 300, "READY", "READY").state).toBe("READY");
    expect(s.raw(300)).toEqual(before);
    expect(s.eventCount(300)).toBe(0);
  });
});
