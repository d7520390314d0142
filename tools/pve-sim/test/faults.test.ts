import { request } from "node:https";
import { afterEach, describe, expect, it } from "vitest";
import { createPveSim, type PveSim } from "../src/index.js";
import { finishTask, pveRequest } from "./helpers/pve-request.js";

let sim: PveSim | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

async function cloneTo(s: PveSim, newid: number): Promise<string> {
  return (await pveRequest(s, "POST", "/nodes/pve/qemu/9000/clone", { form: { newid: String(newid) } })).json
    ?.data as string;
}

describe("fault injection (reference/proxmox.md §5.5)", () => {
  it("taskFail forces the exit status and leaves no VM behind", async () => {
    sim = await createPveSim({ clock: "manual" });
    const text = "clone failed: can't lock file '/var/lock/pve-manager/pve-storage-local-zfs' - got timeout";
    sim.faults.add({ match: { taskType: "qmclone" }, times: 1, effect: { type: "taskFail", message: text } });
    expect(await finishTask(sim, await cloneTo(sim, 100))).toBe(text);
    expect(sim.state.vms.has(100)).toBe(false);
    expect(await finishTask(sim, await cloneTo(sim, 100))).toBe("OK");
  });

  it("taskWarn ends with WARNINGS: n after doing the work", async () => {
    sim = await createPveSim({ clock: "manual" });
    sim.faults.add({ match: { taskType: "qmclone" }, effect: { type: "taskWarn", count: 2 } });
    expect(await finishTask(sim, await cloneTo(sim, 100))).toBe("WARNINGS: 2");
    expect(sim.state.vms.get(100)?.config.get("lock")).toBeUndefined();
  });

  it("leakLock leaves `lock: clone` after an OK clone", async () => {
    sim = await createPveSim({ clock: "manual" });
    sim.faults.add({ match: { taskType: "qmclone" }, effect: { type: "leakLock" } });
    expect(await finishTask(sim, await cloneTo(sim, 100))).toBe("OK");
    const config = (await pveRequest(sim, "GET", "/nodes/pve/qemu/100/config")).json?.data as Record<string, unknown>;
    expect(config.lock).toBe("clone");
    const start = (await pveRequest(sim, "POST", "/nodes/pve/qemu/100/status/start")).json?.data as string;
    expect(await finishTask(sim, start)).toBe("VM is locked (clone)");
  });

  it("http returns the given status and reason once (596 Connection timed out)", async () => {
    sim = await createPveSim({ clock: "manual" });
    sim.faults.add({
      match: { method: "GET", path: "^/cluster/nextid$" },
      nth: 1,
      effect: { type: "http", status: 596, reason: "Connection timed out" },
    });
    const first = await pveRequest(sim, "GET", "/cluster/nextid");
    expect(first.status).toBe(596);
    expect(first.reason).toBe("Connection timed out");
    expect((await pveRequest(sim, "GET", "/cluster/nextid")).json?.data).toBe("100");
  });

  it("reset destroys the socket", async () => {
    sim = await createPveSim({ clock: "manual" });
    sim.faults.add({ match: { path: "^/version$" }, times: 1, effect: { type: "reset" } });
    await expect(pveRequest(sim, "GET", "/version")).rejects.toThrow(/socket hang up|ECONNRESET/);
    expect((await pveRequest(sim, "GET", "/version")).status).toBe(200);
  });

  it("taskStuck stays running until aborted; the clone reports `interrupted by signal`", async () => {
    sim = await createPveSim({ clock: "manual" });
    sim.faults.add({ match: { taskType: "qmstart" }, effect: { type: "taskStuck" } });
    await finishTask(sim, await cloneTo(sim, 100));
    const start = (await pveRequest(sim, "POST", "/nodes/pve/qemu/100/status/start")).json?.data as string;
    await sim.advance(60_000);
    expect(sim.state.tasks.get(start)?.status).toBe("running");
    const abort = await pveRequest(sim, "DELETE", `/nodes/pve/tasks/${encodeURIComponent(start)}`);
    expect(abort.json).toEqual({ data: null });
    expect(await finishTask(sim, start)).toBe("interrupted by signal");
    const clone = await cloneTo(sim, 101);
    await sim.advance(10);
    await pveRequest(sim, "DELETE", `/nodes/pve/tasks/${encodeURIComponent(clone)}`);
    expect(await finishTask(sim, clone)).toBe("clone failed: interrupted by signal");
    expect(sim.state.vms.has(101)).toBe(false);
  });

  it("nextIdStale hands out the previous answer; control endpoints need the secret", async () => {
    sim = await createPveSim({ clock: "manual" });
    expect((await pveRequest(sim, "GET", "/cluster/nextid")).json?.data).toBe("100");
    await finishTask(sim, await cloneTo(sim, 100));
    const add = await control(sim, "POST", "/__sim/faults", { effect: { type: "nextIdStale" }, times: 1 });
    expect(add.status).toBe(200);
    expect((await pveRequest(sim, "GET", "/cluster/nextid")).json?.data).toBe("100");
    expect((await pveRequest(sim, "GET", "/cluster/nextid")).json?.data).toBe("101");
    expect((await control(sim, "GET", "/__sim/state", undefined, "wrong")).status).toBe(403);
    const state = await control(sim, "GET", "/__sim/state");
    expect((JSON.parse(state.text) as { vms: unknown[] }).vms).toHaveLength(2);
  });
});

function control(
  s: PveSim,
  method: string,
  path: string,
  body?: unknown,
  secret = s.controlSecret,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${s.baseUrl}${path}`,
      { method, ca: s.caPem, agent: false, headers: { "x-pvesim-secret": secret, "content-type": "application/json" } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
      },
    );
    req.on("error", reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}
