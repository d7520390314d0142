import { afterEach, describe, expect, it } from "vitest";
import { createPveSim, type ManualClock, type PveSim } from "../src/index.js";
import { finishTask, pveRequest, until } from "./helpers/pve-request.js";

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

describe("clone, locks and lifecycle (reference/proxmox.md §1.5, §1.6, §3)", () => {
  it("shows a `lock: clone` placeholder, refuses start meanwhile, then ends OK with a new MAC", async () => {
    sim = await createPveSim({ clock: "manual" });
    const clone = await post(sim, "/nodes/pve/qemu/9000/clone", { newid: "100", name: "sbx-1" });
    await sim.advance(1);
    const placeholder = await pveRequest(sim, "GET", "/nodes/pve/qemu/100/config");
    expect(placeholder.json?.data).toMatchObject({ lock: "clone" });
    // nextid counts the placeholder (§1.5 clone).
    expect((await pveRequest(sim, "GET", "/cluster/nextid")).json?.data).toBe("101");
    const start = await post(sim, "/nodes/pve/qemu/100/status/start");
    expect(await finishTask(sim, start, 10)).toBe("VM is locked (clone)");
    const edit = await pveRequest(sim, "PUT", "/nodes/pve/qemu/100/config", { form: { cores: "4" } });
    expect(edit.status).toBe(500);
    expect(edit.reason).toBe("VM is locked (clone)");
    expect(await finishTask(sim, clone)).toBe("OK");
    const config = (await pveRequest(sim, "GET", "/nodes/pve/qemu/100/config")).json?.data as Record<string, unknown>;
    const template = (await pveRequest(sim, "GET", "/nodes/pve/qemu/9000/config")).json?.data as Record<
      string,
      unknown
    >;
    expect(config.lock).toBeUndefined();
    expect(config.template).toBeUndefined();
    expect(config.name).toBe("sbx-1");
    expect(config.cores).toBe(2);
    expect(config.memory).toBe("2048");
    expect(config.scsi0).toBe("local-zfs:base-9000-disk-0/vm-100-disk-0,size=32G");
    expect(config.net0).not.toBe(template.net0);
    expect(String(config.net0)).toMatch(/^virtio=BC:24:11:[0-9A-F:]{8},bridge=vmbr0$/);
  });

  it("fails the third of three parallel clones on slow storage with the storage flock text", async () => {
    sim = await createPveSim({ clock: "manual", durations: { storageAlloc: 6_000 } });
    const upids = [
      await post(sim, "/nodes/pve/qemu/9000/clone", { newid: "100" }),
      await post(sim, "/nodes/pve/qemu/9000/clone", { newid: "101" }),
      await post(sim, "/nodes/pve/qemu/9000/clone", { newid: "102" }),
    ];
    const results: string[] = [];
    for (const upid of upids) results.push(await finishTask(sim, upid));
    expect(results.filter((r) => r === "OK")).toHaveLength(2);
    expect(results).toContain(
      "clone failed: can't lock file '/var/lock/pve-manager/pve-storage-local-zfs' - got timeout",
    );
    // The failed clone left no VM and no disks behind.
    expect(sim.state.vms.size).toBe(3);
    const zfs = sim.state.storages.get("local-zfs")!;
    expect([...zfs.volumes.values()].filter((v) => v.vmid >= 100 && v.vmid <= 102)).toHaveLength(4);
  });

  it("rejects a second clone onto a taken id and linked clones of non-templates", async () => {
    sim = await createPveSim({ clock: "manual" });
    await finishTask(sim, await post(sim, "/nodes/pve/qemu/9000/clone", { newid: "100" }));
    const again = await pveRequest(sim, "POST", "/nodes/pve/qemu/9000/clone", { form: { newid: "100" } });
    expect(again.reason).toBe("unable to create VM 100: config file already exists");
    const linked = await pveRequest(sim, "POST", "/nodes/pve/qemu/100/clone", { form: { newid: "101", full: "0" } });
    expect(linked.reason).toBe(
      "Linked clone feature is not supported for 'local-zfs:base-9000-disk-0/vm-100-disk-0' (scsi0)",
    );
    const storage = await pveRequest(sim, "POST", "/nodes/pve/qemu/9000/clone", {
      form: { newid: "101", storage: "local-zfs" },
    });
    expect(storage.reason).toBe("parameter 'storage' not allowed for linked clones");
  });

  it("walks the guest-agent sequence on the manual clock", async () => {
    sim = await createPveSim({ clock: "manual" });
    await finishTask(sim, await post(sim, "/nodes/pve/qemu/9000/clone", { newid: "100" }));
    const agentPath = "/nodes/pve/qemu/100/agent/network-get-interfaces";
    expect((await pveRequest(sim, "GET", agentPath)).reason).toBe("VM 100 is not running");
    expect(await finishTask(sim, await post(sim, "/nodes/pve/qemu/100/status/start"))).toBe("OK");
    // Before the agent is up: the call waits the guest-ping timeout, then fails.
    const early = pveRequest(sim, "GET", agentPath);
    const clock = sim.clock as ManualClock;
    await until(() => clock.pendingTimers() > 0, "guest-ping timer registered");
    await sim.advance(3_000);
    expect((await early).reason).toBe("QEMU guest agent is not running");
    await sim.advance(20_000);
    const linkLocal = (await pveRequest(sim, "GET", agentPath)).json?.data as {
      result: Array<Record<string, unknown>>;
    };
    const names = linkLocal.result.map((i) => i.name);
    expect(names).toEqual(["lo", "eth0"]);
    const eth0Early = linkLocal.result[1]!["ip-addresses"] as Array<Record<string, unknown>>;
    expect(eth0Early.map((a) => a["ip-address-type"])).toEqual(["ipv6"]);
    expect(String(eth0Early[0]!["ip-address"])).toMatch(/^fe80::/);
    await sim.advance(5_000);
    const ready = (await pveRequest(sim, "GET", agentPath)).json?.data as { result: Array<Record<string, unknown>> };
    const eth0 = ready.result[1]!;
    const config = (await pveRequest(sim, "GET", "/nodes/pve/qemu/100/config")).json?.data as Record<string, string>;
    expect(String(config.net0).toLowerCase()).toContain(String(eth0["hardware-address"]));
    const ipv4 = (eth0["ip-addresses"] as Array<Record<string, unknown>>).find((a) => a["ip-address-type"] === "ipv4");
    expect(ipv4?.["ip-address"]).toMatch(/^198\.51\.100\.\d+$/);
    expect(ipv4?.prefix).toBe(24);
  });

  it("updates config with tags normalised, digest checks, and destroys with the id free at once", async () => {
    sim = await createPveSim({ clock: "manual" });
    await finishTask(sim, await post(sim, "/nodes/pve/qemu/9000/clone", { newid: "100" }));
    const before = (await pveRequest(sim, "GET", "/nodes/pve/qemu/100/config")).json?.data as Record<string, string>;
    const put = await pveRequest(sim, "PUT", "/nodes/pve/qemu/100/config", {
      form: { tags: "Zeta,alpha;zeta beta", cores: "4", digest: before.digest!, delete: "vga" },
    });
    expect(put.json).toEqual({ data: null });
    const after = (await pveRequest(sim, "GET", "/nodes/pve/qemu/100/config")).json?.data as Record<string, unknown>;
    expect(after.tags).toBe("alpha;beta;zeta");
    expect(after.cores).toBe(4);
    expect(after.vga).toBeUndefined();
    const stale = await pveRequest(sim, "PUT", "/nodes/pve/qemu/100/config", {
      form: { cores: "2", digest: before.digest! },
    });
    expect(stale.reason).toBe("checksum mismatch (file change by other user?)");
    expect(await finishTask(sim, await post(sim, "/nodes/pve/qemu/100/status/start"))).toBe("OK");
    const running = await pveRequest(sim, "DELETE", "/nodes/pve/qemu/100");
    expect(running.reason).toBe("VM 100 is running - destroy failed");
    const status = (await pveRequest(sim, "GET", "/nodes/pve/qemu/100/status/current")).json?.data;
    expect(status).toMatchObject({ status: "running", qmpstatus: "running", vmid: 100, agent: 1 });
    expect(await finishTask(sim, await post(sim, "/nodes/pve/qemu/100/status/stop"))).toBe("OK");
    const destroy = (await pveRequest(sim, "DELETE", "/nodes/pve/qemu/100?purge=1")).json?.data as string;
    await sim.advance(1);
    expect(sim.state.vms.get(100)?.config.get("lock")).toBe("destroyed");
    expect(await finishTask(sim, destroy)).toBe("OK");
    expect((await pveRequest(sim, "GET", "/cluster/nextid")).json?.data).toBe("100");
  });

  it("snapshots, rolls back and deletes snapshots as tasks", async () => {
    sim = await createPveSim({ clock: "manual" });
    await finishTask(sim, await post(sim, "/nodes/pve/qemu/9000/clone", { newid: "100" }));
    expect(await finishTask(sim, await post(sim, "/nodes/pve/qemu/100/snapshot", { snapname: "clean" }))).toBe("OK");
    const dup = await post(sim, "/nodes/pve/qemu/100/snapshot", { snapname: "clean" });
    expect(await finishTask(sim, dup)).toBe("snapshot name 'clean' already used");
    await pveRequest(sim, "PUT", "/nodes/pve/qemu/100/config", { form: { cores: "8" } });
    const list = (await pveRequest(sim, "GET", "/nodes/pve/qemu/100/snapshot")).json?.data as Array<
      Record<string, unknown>
    >;
    expect(list.map((s) => s.name)).toEqual(["clean", "current"]);
    expect(list[1]).toMatchObject({ description: "You are here!", running: 0, parent: "clean" });
    expect(await finishTask(sim, await post(sim, "/nodes/pve/qemu/100/snapshot/clean/rollback"))).toBe("OK");
    expect(sim.state.vms.get(100)!.config.get("cores")).toBe("2");
    const missing = await post(sim, "/nodes/pve/qemu/100/snapshot/nope/rollback");
    expect(await finishTask(sim, missing)).toBe("snapshot 'nope' does not exist");
    const del = (await pveRequest(sim, "DELETE", "/nodes/pve/qemu/100/snapshot/clean")).json?.data as string;
    expect(await finishTask(sim, del)).toBe("OK");
    const bad = await pveRequest(sim, "POST", "/nodes/pve/qemu/100/snapshot", { form: { snapname: "1bad" } });
    expect(bad.json?.errors).toEqual({ snapname: "invalid format - invalid configuration ID '1bad'" });
  });

  it("fails start when the cicustom snippet is missing, and allocates volumes only for vmid >= 100", async () => {
    sim = await createPveSim({ clock: "manual" });
    await finishTask(sim, await post(sim, "/nodes/pve/qemu/9000/clone", { newid: "100" }));
    await pveRequest(sim, "PUT", "/nodes/pve/qemu/100/config", {
      form: { cicustom: "user=local:snippets/sbx-100.yaml" },
    });
    const start = await post(sim, "/nodes/pve/qemu/100/status/start");
    expect(await finishTask(sim, start)).toBe("can't find file 'local:snippets/sbx-100.yaml'");
    sim.writeSnippet("local:snippets/sbx-100.yaml", "#cloud-config\n");
    expect(await finishTask(sim, await post(sim, "/nodes/pve/qemu/100/status/start"))).toBe("OK");
    const zero = await pveRequest(sim, "POST", "/nodes/pve/storage/local-zfs/content", {
      form: { vmid: "0", filename: "vm-0-disk-1", size: "1G" },
    });
    expect(zero.json?.errors).toEqual({ vmid: "value must have a minimum value of 100" });
    const alloc = await pveRequest(sim, "POST", "/nodes/pve/storage/local-zfs/content", {
      form: { vmid: "100", filename: "vm-100-disk-5", size: "1G" },
    });
    expect(alloc.json?.data).toBe("local-zfs:vm-100-disk-5");
  });
});
