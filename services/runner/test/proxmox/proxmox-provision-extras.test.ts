import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Backend } from "../../src/backend.js";
import { type BackendKind, ctx, failure, type Harness, spec, startHarness } from "./sim-harness.js";

/**
 * Provisioning paths beyond §5.7's table, on both backends against pve-sim: growing the root disk
 * (ProvisionSpec.rootSizeGb → a `resize` task), the profile's firewall security group (a VM
 * firewall rule `type=group`), and the opt-in clearing of a leaked `lock: clone` (scenario 7).
 */
const KINDS: BackendKind[] = ["api", "shell"];

/**
 * How long a provision waits on a lock that never clears before it reports `locked`. Generous, so
 * the clone itself (slow CLI spawns on a loaded machine) always finishes first.
 */
const LOCK_WAIT_MS = 6_000;

describe.each(KINDS)("Proxmox %s backend: resize, firewall group, leaked clone lock", (kind) => {
  let h: Harness;
  let backend: Backend;

  beforeAll(async () => {
    h = await startHarness();
    backend = h.make(kind);
  });
  afterAll(async () => {
    await h?.close();
  });

  const resizeTasksOf = (vmid: number) =>
    [...h.sim.state.tasks.values()].filter((t) => t.type === "resize" && t.id === String(vmid));
  const groupRules = (vmid: number) =>
    (h.sim.state.vmFirewallRules.get(vmid) ?? []).filter((rule) => rule.type === "group");

  it("grows the root disk to rootSizeGb with a resize task, and leaves a larger disk alone", async () => {
    await backend.provision(ctx(), spec(100, { rootSizeGb: 40 }));
    expect(h.sim.state.vms.get(100)?.config.get("scsi0")).toMatch(/,size=40G$/);
    expect(resizeTasksOf(100).map((t) => t.exitstatus)).toEqual(["OK"]);

    // The template's disk is 32 GiB: asking for 16 never shrinks and sends no resize at all.
    await backend.provision(ctx(), spec(101, { rootSizeGb: 16 }));
    expect(h.sim.state.vms.get(101)?.config.get("scsi0")).toMatch(/,size=32G$/);
    expect(resizeTasksOf(101)).toEqual([]);
    await backend.destroy(ctx(), 100);
    await backend.destroy(ctx(), 101);
  });

  it("applies the profile's security group as an enabled type=group rule, once, even on a retried provision", async () => {
    const call = ctx(20_000, `fw-${kind}`);
    const sandbox = spec(102, { network: { bridge: "vmbr1", firewallGroup: "agent_nat_default" } });
    await backend.provision(call, sandbox);
    expect(h.sim.state.vms.get(102)?.config.get("net0")).toMatch(/,firewall=1$/);
    expect(groupRules(102)).toEqual([{ type: "group", action: "agent_nat_default", enable: 1 }]);

    // A runner restart (no in-memory ledger) retrying the same request resumes; no second rule.
    const restarted = h.make(kind);
    await restarted.provision({ ...call, deadline: Date.now() + 20_000 }, sandbox);
    expect(groupRules(102)).toHaveLength(1);
    await backend.destroy(ctx(), 102);
    expect(h.sim.state.vmFirewallRules.has(102)).toBe(false);
  });

  it("refuses a security group the cluster firewall does not have, and removes the half-made VM", async () => {
    const err = await failure(
      backend.provision(ctx(), spec(103, { network: { bridge: "vmbr1", firewallGroup: "agent_nat_gone" } })),
    );
    expect(err.kind).toBe("invalid_argument");
    expect(err.message).toContain("security group 'agent_nat_gone' does not exist in the cluster firewall");
    expect(String(err.details.hint)).toContain("Security Group");
    expect(h.sim.state.vms.has(103)).toBe(false);

    const bad = await failure(
      backend.provision(ctx(), spec(104, { network: { bridge: "vmbr1", firewallGroup: "no spaces" } })),
    );
    expect(bad.kind).toBe("invalid_argument");
    expect(h.sim.state.vms.has(104)).toBe(false); // refused before anything was cloned
  });

  const leakNextClone = () =>
    h.sim.faults.add({ match: { taskType: "qmclone" }, times: 1, effect: { type: "leakLock", lock: "clone" } });

  it("with unlockLeakedCloneLocks off (the default), a leaked lock: clone is reported, not cleared", async () => {
    const id = leakNextClone();
    const err = await failure(backend.provision(ctx(LOCK_WAIT_MS), spec(105)));
    h.sim.faults.remove(id);
    expect(err.kind).toBe("locked");
    expect(String(err.details.hint)).toContain("qm unlock 105");
    expect(h.sim.requests().some((r) => r.path.startsWith("qm unlock"))).toBe(false);
  });

  if (kind === "shell") {
    it("with unlockLeakedCloneLocks on, qm unlock clears a lock no clone task holds, and provisioning goes on", async () => {
      const unlocking = h.make(kind, { unlockLeakedCloneLocks: true });
      const id = leakNextClone();
      const info = await unlocking.provision(ctx(), spec(106));
      h.sim.faults.remove(id);
      expect(info.owned).toBe(true);
      expect(info.lock).toBeUndefined();
      expect(h.sim.requests().filter((r) => r.path === "qm unlock 106")).toHaveLength(1);
      expect(h.logs.some((l) => l.includes("cleared a leaked 'lock: clone'"))).toBe(true);
      await unlocking.destroy(ctx(), 106);
    });

    it("never unlocks a VM that is not ours, option or not", async () => {
      const unlocking = h.make(kind, { unlockLeakedCloneLocks: true });
      h.sim.seedVm({ vmid: 107, name: "someone-else", config: { lock: "clone" } });
      const err = await failure(unlocking.provision(ctx(LOCK_WAIT_MS), spec(107)));
      expect(["locked", "already_exists"]).toContain(err.kind);
      expect(h.sim.state.vms.get(107)?.config.get("lock")).toBe("clone");
    });
  } else {
    it("with unlockLeakedCloneLocks on, the API backend still reports the lock: tokens cannot skiplock", async () => {
      const unlocking = h.make(kind, { unlockLeakedCloneLocks: true });
      expect(h.logs.some((l) => l.includes("cannot clear a lock"))).toBe(true);
      const id = leakNextClone();
      const err = await failure(unlocking.provision(ctx(LOCK_WAIT_MS), spec(106)));
      h.sim.faults.remove(id);
      expect(err.kind).toBe("locked");
      expect(h.sim.state.vms.get(106)?.config.get("lock")).toBe("clone");
    });
  }
});
