import { afterEach, describe, expect, it } from "vitest";
import { createPveSim, type ManualClock, type PveSim } from "../src/index.js";
import { finishTask, pveRequest, settle, until } from "./helpers/pve-request.js";

let sim: PveSim | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

async function post(s: PveSim, path: string, form: Record<string, string> = {}): Promise<string> {
  const res = await pveRequest(s, "POST", path, { form });
  if (res.status !== 200) throw new Error(`${path}: ${res.status} ${res.reason}`);
  return res.json?.data as string;
}

type Resource = Record<string, unknown>;

describe("cluster resources, pending config, storage features (reference/proxmox.md §1.5, §3)", () => {
  it("lags name/status of new VMs behind the RRD refresh while lock/tags are live", async () => {
    sim = await createPveSim({ clock: "manual" });
    await pveRequest(sim, "GET", "/cluster/resources?type=vm");
    await finishTask(sim, await post(sim, "/nodes/pve/qemu/9000/clone", { newid: "100", name: "fresh" }));
    await pveRequest(sim, "PUT", "/nodes/pve/qemu/100/config", { form: { tags: "agentlab" } });
    const stale = (await pveRequest(sim, "GET", "/cluster/resources?type=vm")).json?.data as Resource[];
    const entry = stale.find((r) => r.vmid === 100)!;
    expect(entry).toMatchObject({ id: "qemu/100", type: "qemu", status: "unknown", tags: "agentlab" });
    expect(entry.name).toBeUndefined();
    await sim.advance(10_000);
    const fresh = (await pveRequest(sim, "GET", "/cluster/resources?type=vm")).json?.data as Resource[];
    expect(fresh.find((r) => r.vmid === 100)).toMatchObject({ name: "fresh", status: "stopped", template: 0 });
    expect(fresh.find((r) => r.vmid === 9000)).toMatchObject({ template: 1 });
  });

  it("keeps non-hotpluggable changes of a running VM pending until the next start", async () => {
    sim = await createPveSim({ clock: "manual" });
    await finishTask(sim, await post(sim, "/nodes/pve/qemu/9000/clone", { newid: "100" }));
    await finishTask(sim, await post(sim, "/nodes/pve/qemu/100/status/start"));
    await pveRequest(sim, "PUT", "/nodes/pve/qemu/100/config", { form: { cores: "6", description: "hello" } });
    const pending = (await pveRequest(sim, "GET", "/nodes/pve/qemu/100/config")).json?.data as Resource;
    const current = (await pveRequest(sim, "GET", "/nodes/pve/qemu/100/config?current=1")).json?.data as Resource;
    expect(pending.cores).toBe(6);
    expect(current.cores).toBe(2);
    expect(current.description).toBe("hello");
    await finishTask(sim, await post(sim, "/nodes/pve/qemu/100/status/stop"));
    await finishTask(sim, await post(sim, "/nodes/pve/qemu/100/status/start"));
    const restarted = await pveRequest(sim, "GET", "/nodes/pve/qemu/100/config?current=1");
    expect((restarted.json!.data as Resource).cores).toBe(6);
  });

  it("POST config returns null within background_delay, a UPID otherwise", async () => {
    sim = await createPveSim({ timeScale: 0.001 });
    await sim.runCli(["qm", "clone", "9000", "100"]);
    const quick = await pveRequest(sim, "POST", "/nodes/pve/qemu/100/config", {
      form: { cores: "3", background_delay: "5" },
    });
    expect(quick.json).toEqual({ data: null });
    const async = await pveRequest(sim, "POST", "/nodes/pve/qemu/100/config", { form: { cores: "4" } });
    expect(String(async.json?.data)).toMatch(/^UPID:pve:.*:qmconfig:100:root@pam!runner:$/);
  });

  it("refuses to destroy a template with linked clones and linked clones on thick LVM", async () => {
    sim = await createPveSim({
      clock: "manual",
      storages: [
        { id: "local", type: "dir", content: ["iso", "snippets"] },
        { id: "local-zfs", type: "zfspool", content: ["images"] },
        { id: "local-lvm", type: "lvm", content: ["images"] },
      ],
      templates: [
        { vmid: 9000, name: "tpl" },
        { vmid: 9001, name: "thick", storage: "local-lvm" },
      ],
    });
    await finishTask(sim, await post(sim, "/nodes/pve/qemu/9000/clone", { newid: "100" }));
    const destroy = (await pveRequest(sim, "DELETE", "/nodes/pve/qemu/9000")).json?.data as string;
    expect(await finishTask(sim, destroy)).toBe(
      "base volume 'local-zfs:base-9000-disk-0' is still in use by linked cloned",
    );
    expect(sim.state.vms.get(9000)?.config.get("lock")).toBeUndefined();
    const thick = await pveRequest(sim, "POST", "/nodes/pve/qemu/9001/clone", { form: { newid: "101" } });
    expect(thick.status).toBe(500);
    expect(thick.reason).toBe("Linked clone feature is not supported for 'local-lvm:base-9001-disk-0' (scsi0)");
    const full = await post(sim, "/nodes/pve/qemu/9001/clone", { newid: "101", full: "1" });
    expect(await finishTask(sim, full, 1_000)).toBe("OK");
    expect(sim.state.vms.get(101)?.config.get("scsi0")).toBe("local-lvm:vm-101-disk-0,size=32G");
  });

  it("holds a delayed response until the sim clock passes, and never answers a hung one", async () => {
    sim = await createPveSim({ clock: "manual" });
    const clock = sim.clock as ManualClock;
    sim.faults.add({ match: { path: "^/version$" }, times: 1, effect: { type: "delay", ms: 45_000 } });
    let answered = false;
    const delayed = pveRequest(sim, "GET", "/version").then((r) => {
      answered = true;
      return r;
    });
    await until(() => clock.pendingTimers() > 0, "delay timer registered");
    await settle();
    expect(answered).toBe(false);
    await sim.advance(45_000);
    expect((await delayed).status).toBe(200);
    sim.faults.add({ match: { path: "^/nodes$" }, effect: { type: "hang" } });
    const hung = pveRequest(sim, "GET", "/nodes").catch((err: Error) => err);
    await until(() => sim!.requests().some((r) => r.path === "/nodes"), "hung request logged");
    await sim.advance(600_000);
    await sim.close();
    expect(await hung).toBeInstanceOf(Error);
  });
});
