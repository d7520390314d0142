import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Backend } from "../../src/backend.js";
import { type BackendKind, ctx, failure, type Harness, spec, startHarness } from "./sim-harness.js";

/**
 * A profile's security group isolates the sandbox only when the VM's own firewall is on (VM
 * firewall option `enable: 1`; a new PVE VM has it off). On both backends against pve-sim: the
 * runner turns it on with the group rule, reads before it writes, touches nothing without a group,
 * and refuses the provision rather than leave a sandbox unfiltered.
 */
const KINDS: BackendKind[] = ["api", "shell"];
const GROUP = "agent_nat_default";

describe.each(KINDS)("Proxmox %s backend: VM firewall options with a security group", (kind) => {
  let h: Harness;
  let backend: Backend;

  beforeAll(async () => {
    h = await startHarness();
    backend = h.make(kind);
  });
  afterAll(async () => {
    await h?.close();
  });

  const withGroup = (vmid: number, templateVmid = 9000) =>
    spec(vmid, { templateVmid, network: { bridge: "vmbr1", firewallGroup: GROUP } });
  /** Every call on the VM's firewall options, REST (`…/firewall/options`) or CLI (`pvesh … <path>`). */
  const optionCalls = (vmid: number) =>
    h.sim.requests().filter((r) => r.path.includes(`/qemu/${vmid}/firewall/options`));
  const optionWrites = (vmid: number) =>
    optionCalls(vmid).filter((r) => r.method === "PUT" || r.path.startsWith("pvesh set"));
  const groupRules = (vmid: number) =>
    (h.sim.state.vmFirewallRules.get(vmid) ?? []).filter((rule) => rule.type === "group");

  it("enables the VM firewall with the group rule and firewall=1 on net0, once, even on a retried provision", async () => {
    const call = ctx(20_000, `fw-options-${kind}`);
    await backend.provision(call, withGroup(200));
    expect(h.sim.state.vmFirewallOptions.get(200)).toEqual({ enable: 1 });
    expect(groupRules(200)).toEqual([{ type: "group", action: GROUP, enable: 1 }]);
    expect(h.sim.state.vms.get(200)?.config.get("net0")).toMatch(/,firewall=1$/);
    expect(optionWrites(200)).toHaveLength(1);

    // A runner restart retrying the same request reads the option, finds it on, and writes nothing.
    const restarted = h.make(kind);
    await restarted.provision({ ...call, deadline: Date.now() + 20_000 }, withGroup(200));
    expect(optionWrites(200)).toHaveLength(1);
    expect(groupRules(200)).toHaveLength(1);
    expect(h.sim.state.vmFirewallOptions.get(200)).toEqual({ enable: 1 });
    await backend.destroy(ctx(), 200);
    expect(h.sim.state.vmFirewallOptions.has(200)).toBe(false);
  });

  it("leaves the firewall options alone when the profile names no group", async () => {
    await backend.provision(ctx(), spec(201));
    expect(optionCalls(201)).toEqual([]);
    expect(h.sim.state.vmFirewallOptions.has(201)).toBe(false);
    expect(h.sim.state.vms.get(201)?.config.get("net0")).not.toContain("firewall=1");
    await backend.destroy(ctx(), 201);
  });

  it("network.firewall without a group: the NIC's flag only, set or cleared; the VM's options untouched", async () => {
    await backend.provision(ctx(), spec(204, { network: { bridge: "vmbr1", firewall: true } }));
    expect(h.sim.state.vms.get(204)?.config.get("net0")).toMatch(/,firewall=1$/);
    expect(optionCalls(204)).toEqual([]);
    expect(groupRules(204)).toEqual([]);

    // A template whose NIC has the flag: `firewall: false` clears it, no opinion keeps it.
    h.sim.seedVm({ vmid: 9102, template: true });
    const templateNet0 = h.sim.state.vms.get(9102)?.config.get("net0") ?? "";
    h.sim.state.vms.get(9102)?.config.set("net0", `${templateNet0},firewall=1`);
    await backend.provision(ctx(), spec(205, { templateVmid: 9102, network: { bridge: "vmbr1", firewall: false } }));
    expect(h.sim.state.vms.get(205)?.config.get("net0")).not.toContain("firewall=1");
    await backend.provision(ctx(), spec(206, { templateVmid: 9102, network: { bridge: "vmbr1" } }));
    expect(h.sim.state.vms.get(206)?.config.get("net0")).toMatch(/,firewall=1$/);
    for (const vmid of [204, 205, 206]) await backend.destroy(ctx(), vmid);
  });

  it("sends only enable=1: policies the template's firewall file gave the clone stay", async () => {
    h.sim.seedVm({ vmid: 9100, template: true });
    h.sim.state.vmFirewallOptions.set(9100, { enable: 0, policy_in: "ACCEPT", log_level_in: "info" });
    await backend.provision(ctx(), withGroup(202, 9100));
    expect(h.sim.state.vmFirewallOptions.get(202)).toEqual({ enable: 1, policy_in: "ACCEPT", log_level_in: "info" });
    expect(h.sim.state.vmFirewallOptions.get(9100)?.enable).toBe(0); // the template keeps its own file
    await backend.destroy(ctx(), 202);
  });

  it("writes nothing when the clone's firewall is already on (copied from the template)", async () => {
    h.sim.seedVm({ vmid: 9101, template: true });
    h.sim.state.vmFirewallOptions.set(9101, { enable: 1 });
    await backend.provision(ctx(), withGroup(203, 9101));
    expect(optionCalls(203).length).toBeGreaterThan(0);
    expect(optionWrites(203)).toEqual([]);
    expect(h.sim.state.vmFirewallOptions.get(203)).toEqual({ enable: 1 });
    await backend.destroy(ctx(), 203);
  });

  it("does not count a disabled group rule copied from the template: an enabled one is added", async () => {
    h.sim.seedVm({ vmid: 9102, template: true });
    h.sim.state.vmFirewallRules.set(9102, [{ type: "group", action: GROUP, enable: 0 }]);
    await backend.provision(ctx(), withGroup(206, 9102));
    expect(groupRules(206)).toEqual([
      { type: "group", action: GROUP, enable: 1 },
      { type: "group", action: GROUP, enable: 0 },
    ]);
    expect(h.sim.state.vmFirewallOptions.get(206)).toEqual({ enable: 1 });
    await backend.destroy(ctx(), 206);
  });

  if (kind === "api") {
    const refuseOptionWrites = (effect: { type: "http"; status: number; reason?: string }) =>
      h.sim.faults.add({ match: { method: "PUT", path: "/firewall/options$" }, times: 1, effect });

    it("a token that may not set the VM firewall fails the provision (auth, with the privilege to grant) and removes the VM", async () => {
      const id = refuseOptionWrites({
        type: "http",
        status: 403,
        reason: "Permission check failed (/vms/204, VM.Config.Network)",
      });
      const err = await failure(backend.provision(ctx(), withGroup(204)));
      h.sim.faults.remove(id);
      expect(err.kind).toBe("auth");
      expect(err.message).toContain(`enabling the firewall of VM 204 (security group '${GROUP}'`);
      expect(err.message).toContain("VM.Config.Network");
      expect(String(err.details.hint)).toContain("VM.Config.Network");
      expect(h.sim.state.vms.has(204)).toBe(false);
    });

    it("a write that is answered but never lands is caught by reading back: no unfiltered sandbox", async () => {
      const id = refuseOptionWrites({ type: "http", status: 200 }); // answers {data: null}, changes nothing
      const err = await failure(backend.provision(ctx(), withGroup(205)));
      h.sim.faults.remove(id);
      expect(err.kind).toBe("internal");
      expect(err.message).toContain("firewall is still off");
      expect(String(err.details.hint)).toContain("filter nothing");
      expect(h.sim.state.vms.has(205)).toBe(false);
    });
  }
});
