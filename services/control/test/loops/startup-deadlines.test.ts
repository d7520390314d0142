/**
 * Deadlines on sandboxes still being brought up, with a fake clock: past requested_timeout,
 * provisioning_timeout or boot_timeout (each its own) a sandbox that no request of this process is
 * working on FAILS with the reason and what was created is destroyed; the startup pass
 * (`interrupted: true`) fails them at once. Real local runner: the VMs destroyed are real.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { formatTimestamp } from "../../src/db/timestamps.js";
import { enforceStartingDeadlines } from "../../src/loops/startup-deadlines.js";
import type { SandboxStateName } from "../../src/sandboxes/sandbox-state-machine.js";
import { getSandbox, insertSandbox } from "../../src/sandboxes/sandbox-store.js";
import { type ControlHarness, startControlHarness } from "../support/control-harness.js";

const silent = { info() {}, warn() {}, error() {}, debug() {} } as never;

describe("deadlines on starting sandboxes", () => {
  let h: ControlHarness;
  beforeEach(async () => {
    // Three different deadlines, so each state is seen to use its own.
    h = await startControlHarness({
      config: { requested_timeout: "1m", provisioning_timeout: "2m", boot_timeout: "3m" },
    });
  });
  afterEach(async () => {
    await h.close();
  });

  const deps = () => ({
    db: h.app.db,
    bus: h.app.bus,
    clock: h.app.clock,
    lifecycle: h.app.lifecycle,
    runners: h.app.runners,
    policy: h.app.policy,
    logger: silent,
  });

  /** Puts a row in `state`, entered now, as if a previous step had left it there. */
  function stick(vmid: number, state: SandboxStateName): void {
    h.app.db
      .prepare("UPDATE sandboxes SET state = ?, meta_json = json_set(meta_json, '$.stateEnteredAt', ?) WHERE vmid = ?")
      .run(state, formatTimestamp(h.clock.now()), vmid);
  }

  /** A REQUESTED row: no runner was asked anything yet, so there is no VM. */
  function requestedRow(vmid: number): void {
    insertSandbox(
      h.app.db,
      {
        vmid,
        name: `requested-${vmid}`,
        profile: "local-test",
        keepalive: false,
        leaseExpiresAt: null,
        ownerTag: "agentlab-testdeploy",
        runner: "local",
        requestId: null,
        workspaceId: null,
        meta: { backend: "local" },
      },
      formatTimestamp(h.clock.now()),
    );
  }

  /** A sandbox with a real VM on the local runner, then stuck in `state`. */
  async function stuckWithVm(name: string, state: SandboxStateName): Promise<number> {
    const { sandbox } = await h.clients.sandboxes.createSandbox({ profile: "local-test", name });
    const vmid = sandbox?.vmid ?? 0;
    stick(vmid, state);
    return vmid;
  }

  const vmDir = (vmid: number) => join(h.config.local_sandbox_dir, String(vmid));

  function failedReason(vmid: number): string | undefined {
    const row = h.app.db
      .prepare("SELECT msg FROM events WHERE sandbox_vmid = ? AND kind = 'sandbox.state' AND msg LIKE '% -> FAILED%'")
      .get(vmid) as { msg: string } | undefined;
    return row?.msg;
  }

  it("fails each state past its own deadline, with the reason, and destroys what was created", async () => {
    requestedRow(5000);
    const provisioning = await stuckWithVm("stuck-provisioning", "PROVISIONING");
    const booting = await stuckWithVm("stuck-booting", "BOOTING");
    expect(existsSync(vmDir(provisioning))).toBe(true);

    expect(await enforceStartingDeadlines(deps())).toEqual([]);
    h.clock.advance(59_000);
    expect(await enforceStartingDeadlines(deps())).toEqual([]);

    h.clock.advance(2_000); // 61 s: past requested_timeout only
    expect(await enforceStartingDeadlines(deps())).toEqual([5000]);
    expect(getSandbox(h.app.db, 5000)).toMatchObject({
      state: "DESTROYED",
      terminationReason: "REQUESTED deadline of 1m passed",
    });
    expect(failedReason(5000)).toBe("REQUESTED -> FAILED: REQUESTED deadline of 1m passed");
    expect(getSandbox(h.app.db, provisioning).state).toBe("PROVISIONING");
    expect(getSandbox(h.app.db, booting).state).toBe("BOOTING");

    h.clock.advance(60_000); // 121 s: past provisioning_timeout
    expect(await enforceStartingDeadlines(deps())).toEqual([provisioning]);
    expect(getSandbox(h.app.db, provisioning)).toMatchObject({
      state: "DESTROYED",
      terminationReason: "PROVISIONING deadline of 2m passed",
    });
    expect(failedReason(provisioning)).toBe("PROVISIONING -> FAILED: PROVISIONING deadline of 2m passed");
    expect(existsSync(vmDir(provisioning))).toBe(false);
    expect(existsSync(vmDir(booting))).toBe(true);

    h.clock.advance(60_000); // 181 s: past boot_timeout
    expect(await enforceStartingDeadlines(deps())).toEqual([booting]);
    expect(getSandbox(h.app.db, booting)).toMatchObject({
      state: "DESTROYED",
      terminationReason: "BOOTING deadline of 3m passed",
    });
    expect(existsSync(vmDir(booting))).toBe(false);
    expect(await h.backend.listVms({ requestId: "check", deadline: Date.now() + 30_000 })).toEqual([]);
  });

  it("leaves READY and RUNNING sandboxes alone however old they are", async () => {
    const ready = await stuckWithVm("ready", "READY");
    const running = await stuckWithVm("running", "RUNNING");
    h.clock.advance(24 * 60 * 60_000);
    expect(await enforceStartingDeadlines(deps())).toEqual([]);
    expect(await enforceStartingDeadlines(deps(), { interrupted: true })).toEqual([]);
    expect(getSandbox(h.app.db, ready).state).toBe("READY");
    expect(getSandbox(h.app.db, running).state).toBe("RUNNING");
  });

  it("at startup (interrupted) fails every starting sandbox at once, without waiting for a deadline", async () => {
    requestedRow(5001);
    const provisioning = await stuckWithVm("interrupted-provisioning", "PROVISIONING");
    const booting = await stuckWithVm("interrupted-booting", "BOOTING");
    const failed = await enforceStartingDeadlines(deps(), { interrupted: true });
    expect(failed.sort()).toEqual([5001, provisioning, booting].sort());
    for (const [vmid, state] of [
      [5001, "REQUESTED"],
      [provisioning, "PROVISIONING"],
      [booting, "BOOTING"],
    ] as const) {
      const reason = `${state} interrupted: control restarted before the sandbox was ready`;
      expect(getSandbox(h.app.db, vmid)).toMatchObject({ state: "DESTROYED", terminationReason: reason });
      expect(failedReason(vmid)).toBe(`${state} -> FAILED: ${reason}`);
      expect(existsSync(vmDir(vmid))).toBe(false);
    }
  });

  it("the startup pass of control itself (app.start) applies the same rule", async () => {
    const booting = await stuckWithVm("before-restart", "BOOTING");
    await h.app.start();
    expect(getSandbox(h.app.db, booting)).toMatchObject({
      state: "DESTROYED",
      terminationReason: "BOOTING interrupted: control restarted before the sandbox was ready",
    });
    expect(existsSync(vmDir(booting))).toBe(false);
  });
});
