/**
 * The reconciler and orphan sweep on a Proxmox node (pve-sim through the proxmox-api backend),
 * checked against DESIGN §2's safety rules: only VMs carrying our tag are ever stopped or destroyed;
 * an orphan with our tag is destroyed, at most orphan_sweep_max_destroys per sweep; an unreachable
 * runner changes nothing and is reported; a dry run changes nothing.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { formatTimestamp } from "../../src/db/timestamps.js";
import type { SandboxStateName } from "../../src/sandboxes/sandbox-state-machine.js";
import { getSandbox, insertSandbox } from "../../src/sandboxes/sandbox-store.js";
import { OWNER_TAG, type PveSimControlHarness, startPveSimControlHarness } from "./pve-sim-control-harness.js";

const MAX_DESTROYS = 3;

describe("reconciler and orphan sweep safety on pve-sim", () => {
  let h: PveSimControlHarness;
  beforeEach(async () => {
    h = await startPveSimControlHarness({ config: { orphan_sweep_max_destroys: MAX_DESTROYS } });
  });
  afterEach(async () => {
    await h.close();
  });

  /** A row as control would have recorded it (owner tag set), in `state`, with no call to a runner. */
  function recordRow(vmid: number, state: SandboxStateName, ownerTag: string | null = OWNER_TAG): void {
    insertSandbox(
      h.app.db,
      {
        vmid,
        name: `row-${vmid}`,
        profile: "pve-test",
        keepalive: false,
        leaseExpiresAt: null,
        ownerTag: ownerTag ?? "",
        runner: "local",
        requestId: null,
        workspaceId: null,
        meta: { backend: "proxmox" },
      },
      formatTimestamp(h.clock.now()),
    );
    h.app.db.prepare("UPDATE sandboxes SET state = ?, owner_tag = ? WHERE vmid = ?").run(state, ownerTag, vmid);
  }

  /** A VM on the node, running, tagged ours or not. */
  function seedVm(vmid: number, ours: boolean): void {
    h.sim.seedVm({ vmid, name: `vm-${vmid}`, running: true, ...(ours ? { config: { tags: OWNER_TAG } } : {}) });
  }

  /** Every request that could change VM `vmid`: anything but a read. */
  const mutationsOf = (vmid: number) =>
    h.sim
      .requests()
      .filter((r) => r.method !== "GET" && new RegExp(`/qemu/${vmid}(/|$)`).test(r.path))
      .map((r) => `${r.method} ${r.path}`);

  const simVmids = () => [...h.sim.state.vms.keys()].filter((vmid) => vmid !== 9000).sort((a, b) => a - b);
  const sandboxRows = () => h.app.db.prepare("SELECT * FROM sandboxes ORDER BY vmid").all();

  it("never stops or destroys a VM without our tag, even when its VMID matches a row of ours", async () => {
    seedVm(1000, false); // someone else's VM now holds the VMID our sandbox had
    recordRow(1000, "READY");
    seedVm(4242, false); // a foreign VM control knows nothing about

    const res = await h.sandboxes.reconcileSandboxes({ dryRun: false });
    expect(res.unreachableRunners).toEqual([]);
    expect(res.actions.map((a) => [a.vmid, a.action])).toEqual([[1000, "mark_destroyed"]]);
    expect(res.actions[0]?.reason).toContain("no longer carries our tag");
    expect(getSandbox(h.app.db, 1000).state).toBe("DESTROYED");

    // The VMs are still there, still running, untouched and untagged.
    expect(simVmids()).toEqual([1000, 4242]);
    expect(h.sim.state.vms.get(1000)?.runState).toBe("running");
    expect(h.sim.state.vms.get(1000)?.config.get("tags")).toBeUndefined();
    expect(mutationsOf(1000)).toEqual([]);
    expect(mutationsOf(4242)).toEqual([]);

    // A second sweep has nothing to say about either.
    expect((await h.sandboxes.reconcileSandboxes({ dryRun: false })).actions).toEqual([]);
    expect(simVmids()).toEqual([1000, 4242]);
  });

  it("refuses a user destroy of a row whose VMID is held by a foreign VM, leaving the VM", async () => {
    seedVm(1001, false);
    recordRow(1001, "READY");
    let code: Code | undefined;
    try {
      await h.sandboxes.destroySandbox({ sandbox: { selector: { case: "vmid", value: 1001 } } });
    } catch (err) {
      code = err instanceof ConnectError ? err.code : undefined;
    }
    // The runner refuses VMs without our tag (not_owned), and control passes that on.
    expect(code).toBe(Code.PermissionDenied);
    expect(getSandbox(h.app.db, 1001).state).toBe("READY");
    expect(simVmids()).toEqual([1001]);
    expect(mutationsOf(1001)).toEqual([]);
  });

  it("destroys orphans with our tag and no live row, at most orphan_sweep_max_destroys per sweep", async () => {
    // A live sandbox made through the API: its VM carries our tag and must survive every sweep.
    const { sandbox } = await h.sandboxes.createSandbox({ profile: "pve-test", name: "keep-me" });
    const live = sandbox?.vmid ?? 0;
    expect(h.sim.state.vms.get(live)?.config.get("tags")).toContain(OWNER_TAG);
    // Seven orphans: six nobody recorded, one whose row is already DESTROYED.
    for (const vmid of [2001, 2002, 2003, 2004, 2005, 2006]) seedVm(vmid, true);
    seedVm(2007, true);
    recordRow(2007, "DESTROYED");
    seedVm(3000, false); // foreign: never an orphan of ours

    const orphansLeft = () => simVmids().filter((vmid) => vmid >= 2000 && vmid < 3000);
    const first = await h.sandboxes.reconcileSandboxes({ dryRun: false });
    expect(first.actions.filter((a) => a.action === "destroy_orphan")).toHaveLength(MAX_DESTROYS);
    expect(first.actions.filter((a) => a.action === "skip")).toHaveLength(7 - MAX_DESTROYS);
    expect(orphansLeft()).toHaveLength(7 - MAX_DESTROYS);

    const second = await h.sandboxes.reconcileSandboxes({ dryRun: false });
    expect(second.actions.filter((a) => a.action === "destroy_orphan")).toHaveLength(MAX_DESTROYS);
    expect(orphansLeft()).toHaveLength(1);

    const third = await h.sandboxes.reconcileSandboxes({ dryRun: false });
    expect(third.actions.map((a) => a.action)).toEqual(["destroy_orphan"]);
    expect(orphansLeft()).toEqual([]);

    expect(simVmids()).toEqual([live, 3000]);
    expect(getSandbox(h.app.db, live).state).toBe("READY");
    expect(mutationsOf(3000)).toEqual([]);
    expect((await h.sandboxes.reconcileSandboxes({ dryRun: false })).actions).toEqual([]);
  });

  it("changes nothing and reports the runner when every Proxmox request fails with 596", async () => {
    const { sandbox } = await h.sandboxes.createSandbox({ profile: "pve-test", name: "while-down" });
    const live = sandbox?.vmid ?? 0;
    seedVm(2100, true); // an orphan that would be destroyed if the node answered
    recordRow(1500, "READY"); // a row whose VM is missing: would be marked DESTROYED if the node answered
    const before = { rows: sandboxRows(), vms: simVmids() };

    h.sim.faults.add({ effect: { type: "http", status: 596, reason: "Connection timed out" } });
    const res = await h.sandboxes.reconcileSandboxes({ dryRun: false });
    expect(res.unreachableRunners).toEqual(["local"]);
    expect(res.actions).toEqual([]);
    expect(sandboxRows()).toEqual(before.rows);
    expect(simVmids()).toEqual(before.vms);
    expect(getSandbox(h.app.db, live).state).toBe("READY");
  });

  it("changes nothing and reports the runner when the node is gone entirely", async () => {
    recordRow(1500, "READY");
    recordRow(1501, "RUNNING");
    const before = sandboxRows();
    await h.closeSim();
    const res = await h.sandboxes.reconcileSandboxes({ dryRun: false });
    expect(res.unreachableRunners).toEqual(["local"]);
    expect(res.actions).toEqual([]);
    expect(sandboxRows()).toEqual(before);
  });

  it("dry run reports what a sweep would do and changes nothing, in the database or on the node", async () => {
    seedVm(1000, false);
    recordRow(1000, "READY"); // would be mark_destroyed (foreign VM holds the VMID)
    recordRow(1600, "RUNNING"); // would be mark_destroyed (VM missing)
    for (const vmid of [2201, 2202]) seedVm(vmid, true); // would be destroyed as orphans
    const before = { rows: sandboxRows(), vms: simVmids(), requests: h.sim.requests().length };

    const dry = await h.sandboxes.reconcileSandboxes({ dryRun: true });
    expect(dry.actions.map((a) => [a.vmid, a.action]).sort()).toEqual(
      [
        [1000, "mark_destroyed"],
        [1600, "mark_destroyed"],
        [2201, "destroy_orphan"],
        [2202, "destroy_orphan"],
      ].sort(),
    );
    expect(sandboxRows()).toEqual(before.rows);
    expect(simVmids()).toEqual(before.vms);
    const during = h.sim.requests().slice(before.requests);
    expect(during.filter((r) => r.method !== "GET")).toEqual([]);

    // The same sweep for real then does exactly what the dry run said.
    const real = await h.sandboxes.reconcileSandboxes({ dryRun: false });
    expect(real.actions.map((a) => [a.vmid, a.action]).sort()).toEqual(
      dry.actions.map((a) => [a.vmid, a.action]).sort(),
    );
    expect(simVmids()).toEqual([1000]);
  });
});
