import { afterEach, describe, expect, it } from "vitest";
import { createPveSim, type PveSim, pveMessages } from "../src/index.js";
import { finishTask, pveRequest } from "./helpers/pve-request.js";

/** Disk resize (`resize` task), security groups on VM firewall rules, task listing, root-only skiplock. */
let sim: PveSim | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

async function clone(s: PveSim, newid: number): Promise<void> {
  const res = await pveRequest(s, "POST", "/nodes/pve/qemu/9000/clone", { form: { newid: String(newid) } });
  expect(res.status).toBe(200);
  expect(await finishTask(s, res.json?.data as string)).toBe("OK");
}

describe("PUT …/resize (reference/proxmox.md §1.4 task type resize)", () => {
  it("grows a disk absolutely or relatively as a resize task and rewrites size=", async () => {
    sim = await createPveSim({ clock: "manual" });
    await clone(sim, 100);
    expect(sim.state.vms.get(100)?.config.get("scsi0")).toMatch(/,size=32G$/);
    const res = await pveRequest(sim, "PUT", "/nodes/pve/qemu/100/resize", { form: { disk: "scsi0", size: "40G" } });
    expect(res.status).toBe(200);
    const upid = res.json?.data as string;
    expect(upid).toMatch(/^UPID:pve:[0-9A-F]{8}:[0-9A-F]{8,9}:[0-9A-F]{8}:resize:100:root@pam!runner:$/);
    expect(await finishTask(sim, upid)).toBe("OK");
    const relative = await pveRequest(sim, "PUT", "/nodes/pve/qemu/100/resize", {
      form: { disk: "scsi0", size: "+2G" },
    });
    expect(await finishTask(sim, relative.json?.data as string)).toBe("OK");
    const config = (await pveRequest(sim, "GET", "/nodes/pve/qemu/100/config")).json?.data as Record<string, unknown>;
    expect(config.scsi0).toBe("local-zfs:base-9000-disk-0/vm-100-disk-0,size=42G");
    const volume = sim.state.storages.get("local-zfs")?.volumes.get("local-zfs:base-9000-disk-0/vm-100-disk-0");
    expect(volume?.sizeBytes).toBe(42 * 1024 ** 3);
  });

  it("refuses a shrink, an unknown disk, a locked or missing VM, a bad size", async () => {
    sim = await createPveSim({ clock: "manual", pveVersion: "9" });
    await clone(sim, 100);
    const put = (form: Record<string, string>, vmid = 100) =>
      pveRequest(sim!, "PUT", `/nodes/pve/qemu/${vmid}/resize`, { form });
    const shrink = await put({ disk: "scsi0", size: "16G" });
    expect([shrink.status, shrink.reason]).toEqual([500, pveMessages.resizeShrink]);
    expect(shrink.json?.message).toBe(`${pveMessages.resizeShrink}\n`);
    expect((await put({ disk: "scsi7", size: "+1G" })).reason).toBe(pveMessages.resizeDiskMissing("scsi7"));
    expect((await put({ disk: "scsi0", size: "+1G" }, 4321)).reason).toBe(pveMessages.configMissing("pve", 4321));
    const bad = await put({ disk: "scsi0", size: "lots" });
    expect(bad.status).toBe(400);
    expect(bad.json?.errors).toEqual({ size: pveMessages.paramSizePattern });
    sim.state.vms.get(100)!.config.set("lock", "clone");
    expect((await put({ disk: "scsi0", size: "+1G" })).reason).toBe("VM is locked (clone)");
    // skiplock is for root@pam alone: an API token is refused even as root@pam!runner (§1.5).
    const skip = await put({ disk: "scsi0", size: "+1G", skiplock: "1" });
    expect([skip.status, skip.reason]).toEqual([403, pveMessages.onlyRoot]);
  });

  it("qm resize runs the task in the foreground", async () => {
    sim = await createPveSim({ timeScale: 0.001 });
    await sim.runCli(["qm", "clone", "9000", "100"]);
    expect(await sim.runCli(["qm", "resize", "100", "scsi0", "+8G"])).toEqual({ stdout: "", stderr: "", exitCode: 0 });
    expect(sim.state.vms.get(100)?.config.get("scsi0")).toMatch(/,size=40G$/);
    const shrink = await sim.runCli(["qm", "resize", "100", "scsi0", "1G"]);
    expect(shrink).toEqual({ stdout: "", stderr: `${pveMessages.resizeShrink}\n`, exitCode: 255 });
    const cloudInit = await sim.runCli(["qm", "resize", "100", "ide2", "+1G"]);
    expect(cloudInit.exitCode).toBe(0); // the cloud-init drive is a disk, not a cdrom
  });
});

describe("firewall security groups on VMs (pve-firewall rules API)", () => {
  it("seeds the agent_nat_* groups, applies one to a VM as a type=group rule, copies on clone, drops on destroy", async () => {
    sim = await createPveSim({ clock: "manual" });
    const groups = (await pveRequest(sim, "GET", "/cluster/firewall/groups")).json?.data as Array<{ group: string }>;
    expect(groups.map((g) => g.group)).toEqual(["agent_nat_allowlist", "agent_nat_default", "agent_nat_off"]);
    await clone(sim, 100);
    const rules = "/nodes/pve/qemu/100/firewall/rules";
    expect((await pveRequest(sim, "GET", rules)).json?.data).toEqual([]);
    const add = await pveRequest(sim, "POST", rules, {
      form: { type: "group", action: "agent_nat_default", enable: "1" },
    });
    expect([add.status, add.json?.data]).toEqual([200, null]);
    await pveRequest(sim, "POST", rules, { form: { type: "in", action: "DROP", proto: "tcp", dport: "22" } });
    expect((await pveRequest(sim, "GET", rules)).json?.data).toEqual([
      { type: "in", action: "DROP", proto: "tcp", dport: "22", enable: 0, pos: 0 },
      { type: "group", action: "agent_nat_default", enable: 1, pos: 1 },
    ]);
    const copy = await pveRequest(sim, "POST", "/nodes/pve/qemu/100/clone", { form: { newid: "101", full: "1" } });
    expect(await finishTask(sim, copy.json?.data as string)).toBe("OK");
    expect(sim.state.vmFirewallRules.get(101)).toHaveLength(2);
    const destroy = await pveRequest(sim, "DELETE", "/nodes/pve/qemu/100");
    expect(await finishTask(sim, destroy.json?.data as string)).toBe("OK");
    expect((await pveRequest(sim, "GET", rules)).json?.data).toEqual([]);
  });

  it("checks the group name's pattern, not whether the group exists (as pve-firewall's verify_rule)", async () => {
    sim = await createPveSim({ clock: "manual", firewallGroups: ["only_this"] });
    const rules = "/nodes/pve/qemu/9000/firewall/rules";
    const bad = await pveRequest(sim, "POST", rules, { form: { type: "group", action: "no spaces" } });
    expect([bad.status, bad.json?.errors]).toEqual([400, { action: pveMessages.firewallGroupNameInvalid }]);
    const kind = await pveRequest(sim, "POST", rules, { form: { type: "sideways", action: "ACCEPT" } });
    expect(kind.json?.errors).toEqual({ type: pveMessages.firewallRuleTypeUnknown("sideways") });
    const unknown = await pveRequest(sim, "POST", rules, { form: { type: "group", action: "agent_nat_default" } });
    expect(unknown.status).toBe(200);
    const groups = (await pveRequest(sim, "GET", "/cluster/firewall/groups")).json?.data as Array<{ group: string }>;
    expect(groups.map((g) => g.group)).toEqual(["only_this"]);
    expect((await pveRequest(sim, "DELETE", `${rules}/0`)).status).toBe(200);
    expect((await pveRequest(sim, "DELETE", `${rules}/0`)).reason).toBe(pveMessages.firewallNoRule(0));
  });

  it("pvesh create adds a rule (not a task endpoint: no UPID, exit 0) and pvesh get lists it", async () => {
    sim = await createPveSim({ timeScale: 0.001 });
    const path = "/nodes/pve/qemu/9000/firewall/rules";
    const created = await sim.runCli([
      "pvesh",
      "create",
      path,
      "--type",
      "group",
      "--action",
      "agent_nat_off",
      "--enable",
      "1",
    ]);
    expect(created).toEqual({ stdout: "", stderr: "", exitCode: 0 });
    const listed = await sim.runCli(["pvesh", "get", path, "--output-format", "json"]);
    expect(JSON.parse(listed.stdout)).toEqual([{ action: "agent_nat_off", enable: 1, pos: 0, type: "group" }]);
  });
});

describe("GET /nodes/{n}/tasks filters", () => {
  it("lists active or finished tasks, by the task's id (the source VMID for qmclone) and type", async () => {
    sim = await createPveSim({ clock: "manual" });
    const start = await pveRequest(sim, "POST", "/nodes/pve/qemu/9000/clone", { form: { newid: "100" } });
    const upid = start.json?.data as string;
    const list = async (query: string) => {
      const data = (await pveRequest(sim!, "GET", `/nodes/pve/tasks?${query}`)).json?.data ?? [];
      return (data as Array<{ upid: string }>).map((t) => t.upid);
    };
    expect(await list("source=active&vmid=9000")).toEqual([upid]);
    expect(await list("source=active&vmid=100")).toEqual([]);
    expect(await list("source=active&typefilter=qmstart")).toEqual([]);
    expect(await list("vmid=9000")).toEqual([]); // archive = finished tasks
    await finishTask(sim, upid);
    expect(await list("source=active")).toEqual([]);
    expect(await list("source=all&typefilter=qmclone")).toEqual([upid]);
  });
});
