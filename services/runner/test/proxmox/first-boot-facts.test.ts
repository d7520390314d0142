import { describe, expect, it } from "vitest";
import { bootFactsOf, createFirstBootFacts } from "../../src/backends/proxmox-common/first-boot-facts.js";

describe("first-boot facts", () => {
  it("are taken once", () => {
    const memory = createFirstBootFacts();
    memory.remember(300, { agentEnabled: true, mac: "BC:24:11:00:00:01" });
    expect(memory.take(300)).toEqual({ agentEnabled: true, mac: "BC:24:11:00:00:01" });
    expect(memory.take(300)).toBeUndefined();
  });

  it("are forgotten on request, and the oldest go first past the cap", () => {
    const memory = createFirstBootFacts(2);
    for (const vmid of [300, 301, 302]) memory.remember(vmid, { agentEnabled: true, mac: undefined });
    expect(memory.take(300)).toBeUndefined();
    memory.forget(301);
    expect(memory.take(301)).toBeUndefined();
    expect(memory.take(302)).toBeDefined();
  });

  it("come from the config: the agent flag in either spelling, and net0's MAC", () => {
    expect(bootFactsOf({ agent: "1", net0: "virtio=BC:24:11:00:00:02,bridge=vmbr1" })).toEqual({
      agentEnabled: true,
      mac: "BC:24:11:00:00:02",
    });
    expect(bootFactsOf({ agent: "enabled=0,fstrim_cloned_disks=1", net0: "virtio,bridge=vmbr1" })).toEqual({
      agentEnabled: false,
      mac: undefined,
    });
  });
});
