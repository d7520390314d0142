/**
 * A profile's `network.firewall` reaches the VM: control passes it to the runner, the runner sets
 * or clears the NIC's Proxmox firewall flag (net0 `firewall=1`), over the proxmox-api backend and
 * pve-sim. Without a group the VM's own firewall options are left alone.
 */
import { SandboxState } from "@agentlab/api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PVE_PROFILE, type PveSimControlHarness, startPveSimControlHarness } from "../loops/pve-sim-control-harness.js";

const withNetwork = (name: string, network: string) =>
  `${PVE_PROFILE.replace("name: pve-test", `name: ${name}`)}network:\n${network}`;

describe("network.firewall in a Proxmox profile", () => {
  let h: PveSimControlHarness;
  beforeAll(async () => {
    h = await startPveSimControlHarness({
      profiles: {
        "nic-firewall.yaml": withNetwork("nic-firewall", "  bridge: vmbr1\n  firewall: true\n"),
        "no-firewall.yaml": withNetwork("no-firewall", "  bridge: vmbr1\n  firewall: false\n"),
      },
    });
  });
  afterAll(async () => {
    await h?.close();
  });

  const net0Of = async (profile: string) => {
    const { sandbox } = await h.sandboxes.createSandbox({ profile, wait: true });
    expect(sandbox?.state).toBe(SandboxState.READY);
    return h.sim.state.vms.get(sandbox?.vmid ?? 0)?.config.get("net0") ?? "";
  };

  it("firewall: true sets the NIC's flag without a group, and touches no firewall options", async () => {
    expect(await net0Of("nic-firewall")).toMatch(/bridge=vmbr1.*,firewall=1$/);
    expect(h.sim.requests().filter((r) => r.path.includes("/firewall/"))).toEqual([]);
  });

  it("firewall: false clears a flag the template's NIC carried", async () => {
    const template = h.sim.state.vms.get(9000);
    template?.config.set("net0", `${template.config.get("net0")},firewall=1`);
    expect(await net0Of("no-firewall")).not.toContain("firewall=1");
  });
});
