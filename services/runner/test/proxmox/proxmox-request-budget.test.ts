import { readdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Backend } from "../../src/backend.js";
import { type BackendKind, ctx, type Harness, spec, startHarness } from "./sim-harness.js";

/**
 * What a sandbox's lifecycle asks of Proxmox, against pve-sim. Every request is a round trip
 * through pveproxy and pvedaemon, so the runner reads no more than its decisions need: no "is the
 * VMID free?" read before a clone (Proxmox refuses an existing VMID itself, under the target's
 * flock), ownership from `status/current`'s tags when the VM carries ours (the config only for an
 * untagged one), destroy's own answer for "was it there?", and one template read for a burst of
 * clones. These tests fail when a request creeps back in.
 */
const KINDS: BackendKind[] = ["api", "shell"];

/** The API requests, without polls (task status; the guest agent until it answers): their number depends on timing. */
const steps = (requests: Array<{ method: string; path: string; source: string }>) =>
  requests
    .filter((r) => r.source === "api" && !/\/tasks\//.test(r.path))
    .map((r) => `${r.method} ${r.path.replace(/^\/nodes\/pve\/qemu\//, "")}`)
    .filter((step, i, all) => !(step.includes("/agent/") && all[i - 1] === step));

describe("Proxmox api backend: requests per lifecycle", () => {
  let h: Harness;
  let backend: Backend;

  beforeAll(async () => {
    h = await startHarness();
    backend = h.make("api");
    await backend.info(ctx()); // node discovery, once per backend
  });
  afterAll(async () => {
    await h?.close();
  });

  it("provision → start → guest IP → destroy of a tagged VM: 10 requests besides task polls", async () => {
    const from = h.sim.requests().length;
    const provisioned = await backend.provision(ctx(), spec(300));
    await backend.start(ctx(), 300);
    await backend.waitGuestIp(ctx(), 300);
    expect(await backend.destroy(ctx(), 300)).toBe("destroyed");
    expect(steps(h.sim.requests().slice(from))).toEqual([
      "GET 9000/config", // the template: linked clone or full, and its storage for the clone limiter
      "POST 9000/clone",
      "GET 300/config", // the settled clone: lock gone, net0's MAC (kept for the first boot)
      "PUT 300/config",
      "GET 300/status/current", // start: ours (tags) and not running yet
      "POST 300/status/start",
      "GET 300/agent/network-get-interfaces",
      "GET 300/status/current", // destroy: ours (tags) and running
      "POST 300/status/stop",
      "DELETE 300",
    ]);
    expect(provisioned).toMatchObject({ vmid: 300, name: "sandbox-300", state: "stopped", owned: true });
    expect(h.sim.state.vms.has(300)).toBe(false);
    // Gone is success, and destroy says so after one read.
    const again = h.sim.requests().length;
    expect(await backend.destroy(ctx(), 300)).toBe("already_gone");
    expect(steps(h.sim.requests().slice(again))).toEqual(["GET 300/status/current"]);
  });

  it("provision answers without asking again, and says what Proxmox would", async () => {
    const provisioned = await backend.provision(ctx(), spec(306));
    expect(provisioned).toEqual(await backend.status(ctx(), 306));
    await backend.destroy(ctx(), 306);
  });

  it("only a VM's first boot after its provision skips the config read; later boots see an edited MAC", async () => {
    const configReads = (from: number) => steps(h.sim.requests().slice(from)).filter((s) => s === "GET 307/config");
    await backend.provision(ctx(), spec(307));
    let from = h.sim.requests().length;
    await backend.start(ctx(), 307);
    await backend.waitGuestIp(ctx(), 307);
    expect(configReads(from)).toEqual([]);

    // Stopped, its MAC changed by hand, started again: the address is looked up on the new MAC.
    await backend.stop(ctx(), 307);
    const vm = h.sim.state.vms.get(307)!;
    vm.config.set("net0", vm.config.get("net0")!.replace(/=([0-9A-F]{2}:){5}[0-9A-F]{2}/i, "=BC:24:11:00:00:07"));
    from = h.sim.requests().length;
    await backend.start(ctx(), 307);
    expect(await backend.waitGuestIp(ctx(), 307)).toMatchObject({ mac: "bc:24:11:00:00:07" });
    expect(configReads(from)).toEqual(["GET 307/config"]);

    // A runner started after the provision knows nothing of it, and reads the config.
    await backend.destroy(ctx(), 307);
    await backend.provision(ctx(), spec(308));
    const restarted = h.make("api");
    await restarted.start(ctx(), 308);
    from = h.sim.requests().length;
    await restarted.waitGuestIp(ctx(), 308);
    expect(steps(h.sim.requests().slice(from))).toContain("GET 308/config");
    await restarted.destroy(ctx(), 308);
  });

  it("a taken VMID is found by the clone itself: already_exists, and the VM that holds it is untouched", async () => {
    h.sim.seedVm({ vmid: 301, name: "someone-elses", config: { tags: "prod" } });
    const from = h.sim.requests().length;
    const err = (await backend.provision(ctx(), spec(301)).catch((e: unknown) => e)) as { kind: string };
    expect(err.kind).toBe("already_exists");
    const sent = steps(h.sim.requests().slice(from));
    // Nothing reads VM 301 before the clone; afterwards, whoever holds it is looked at, never changed.
    expect(sent.findIndex((s) => s.includes("301"))).toBeGreaterThan(sent.indexOf("POST 9000/clone"));
    expect(sent.filter((s) => !s.startsWith("GET"))).toEqual(["POST 9000/clone"]);
    expect(h.sim.state.vms.get(301)?.config.get("name")).toBe("someone-elses");
  });

  it("clones of one template read it once within TEMPLATE_TTL_MS, and again after a clone failed", async () => {
    const templateReads = (from: number) =>
      steps(h.sim.requests().slice(from)).filter((s) => s === "GET 9000/config").length;
    const fresh = h.make("api");
    const from = h.sim.requests().length;
    await Promise.all([fresh.provision(ctx(), spec(302)), fresh.provision(ctx(), spec(303))]);
    await fresh.provision(ctx(), spec(304));
    expect(templateReads(from)).toBe(1);

    // A clone onto a taken VMID fails: the template is read afresh by the next provision.
    await fresh.provision(ctx(), spec(301)).catch(() => undefined);
    const after = h.sim.requests().length;
    await fresh.provision(ctx(), spec(305));
    expect(templateReads(after)).toBe(1);
    for (const vmid of [302, 303, 304, 305]) await fresh.destroy(ctx(), vmid);
  });
});

describe.each(KINDS)("Proxmox %s backend: ownership from status/current", (kind) => {
  let h: Harness;
  let backend: Backend;

  beforeAll(async () => {
    h = await startHarness();
    backend = h.make(kind);
  });
  afterAll(async () => {
    await h?.close();
  });

  it("stop of a stopped VM sends no stop; start of a running VM sends no start", async () => {
    await backend.provision(ctx(), spec(310));
    const tasksOf = (type: string) =>
      [...h.sim.state.tasks.values()].filter((t) => t.type === type && t.id === "310").length;
    await backend.stop(ctx(), 310);
    expect(tasksOf("qmstop")).toBe(0);
    await backend.start(ctx(), 310);
    await backend.start(ctx(), 310);
    expect(tasksOf("qmstart")).toBe(1);
    await backend.destroy(ctx(), 310);
  });

  it("an untagged VM is still judged by its config: refused without a hint, never stopped", async () => {
    h.sim.seedVm({ vmid: 311, name: "foreign", config: {}, running: true });
    const err = (await backend.destroy(ctx(), 311).catch((e: unknown) => e)) as { kind: string };
    expect(err.kind).toBe("not_owned");
    expect(h.sim.state.vms.get(311)?.runState).toBe("running");
  });

  it("a clone refused for a taken VMID removes the snippet it wrote meanwhile, and no other of that VMID", async () => {
    h.sim.seedVm({ vmid: 322, name: "someone-elses", config: { tags: "prod" } });
    const theirs = "agentlab-322-0123456789abcdef.yaml";
    writeFileSync(path.join(h.snippetsDir, theirs), "#cloud-config\n");
    const err = (await backend.provision(ctx(), spec(322)).catch((e: unknown) => e)) as { kind: string };
    expect(err.kind).toBe("already_exists");
    expect(readdirSync(h.snippetsDir).filter((f) => f.startsWith("agentlab-322-"))).toEqual([theirs]);
  });

  it("destroy removes the VM's own snippets only, even when its cicustom names another VM's", async () => {
    await backend.provision(ctx(), spec(320));
    await backend.provision(ctx(), spec(321));
    const snippetOf = (vmid: number) => readdirSync(h.snippetsDir).filter((f) => f.startsWith(`agentlab-${vmid}-`));
    const [ofFirst] = snippetOf(320);
    expect(ofFirst).toBeDefined();
    // A copy of sandbox 320 made by hand carries 320's cicustom; it is ours only by the copied tag.
    h.sim.state.vms.get(321)?.config.set("cicustom", `user=local:snippets/${ofFirst}`);
    writeFileSync(path.join(h.snippetsDir, "agentlab-321-0123456789abcdef.yaml"), "#cloud-config\n");
    await backend.destroy(ctx(), 321);
    expect(snippetOf(321)).toEqual([]);
    expect(snippetOf(320)).toEqual([ofFirst]);
    await backend.destroy(ctx(), 320);
    expect(snippetOf(320)).toEqual([]);
  });
});
