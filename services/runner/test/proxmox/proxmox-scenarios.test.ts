import { existsSync } from "node:fs";
import { readdir, readFile, stat, unlink } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Backend } from "../../src/backend.js";
import { type BackendKind, ctx, failure, type Harness, OWNER_TAG, spec, startHarness } from "./sim-harness.js";

/**
 * reference/proxmox.md §5.7 scenarios 1–10, driven over both backends against the real simulator.
 * Each scenario uses its own VMIDs so one simulator serves the whole table.
 */
const KINDS: BackendKind[] = ["api", "shell"];

describe.each(KINDS)("Proxmox %s backend against pve-sim", (kind) => {
  let h: Harness;
  let backend: Backend;
  const base = kind === "api" ? 1000 : 2000;

  beforeAll(async () => {
    h = await startHarness({
      storages: [
        { id: "local", type: "dir", content: ["iso", "vztmpl", "backup", "snippets"] },
        { id: "local-zfs", type: "zfspool", content: ["images", "rootdir"] },
        // Thick LVM: no linked clones (§3), for scenario 9.
        { id: "local-lvm", type: "lvm", content: ["images"] },
      ],
      templates: [
        { vmid: 9000, name: "ubuntu-tpl", storage: "local-zfs" },
        { vmid: 9001, name: "lvm-tpl", storage: "local-lvm" },
        { vmid: 9002, name: "docker-tpl", storage: "local-zfs", agent: { docker0: true } },
        { vmid: 9003, name: "no-agent-tpl", storage: "local-zfs", agent: { installed: false } },
      ],
    });
    backend = h.make(kind);
  });
  afterAll(async () => {
    await h?.close();
  });

  const vmConfig = (vmid: number) => Object.fromEntries(h.sim.state.vms.get(vmid)?.config ?? []);

  it("1: happy path — clone, configure, start, IP, snapshot, rollback, stop, destroy", async () => {
    const vmid = base + 1;
    const templateMac = /virtio=([^,]+)/.exec(String(vmConfig(9000).net0))?.[1];
    const info = await backend.provision(ctx(), spec(vmid));
    expect(info).toMatchObject({ vmid, name: `sandbox-${vmid}`, state: "stopped", owned: true });
    expect(info.tags).toContain(OWNER_TAG);

    const config = vmConfig(vmid);
    expect(config.cores).toBe("2");
    expect(config.memory).toBe("2048");
    expect(config.ipconfig0).toBe("ip=dhcp");
    expect(config.net0).toMatch(/^virtio=([0-9A-Fa-f:]{17}),bridge=vmbr1$/);
    expect(config.net0).not.toContain(templateMac); // PVE gave the clone a new MAC, and we kept it
    expect(config.description).toContain(`[agentlab owner=${OWNER_TAG} request=`);
    const cicustom = String(config.cicustom);
    expect(cicustom).toMatch(new RegExp(`^user=local:snippets/agentlab-${vmid}-[0-9a-f]{16}\\.yaml$`));
    const file = path.join(h.snippetsDir, cicustom.replace("user=local:snippets/", ""));
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const yaml = await readFile(file, "utf8");
    expect(yaml.startsWith("#cloud-config\n")).toBe(true);
    expect(yaml).toContain(`hostname: sandbox-${vmid}`);
    expect(yaml).toContain("/etc/agentlab/bootstrap.json");
    expect(yaml).toContain(`tok-${vmid}`);
    // Linked clone from a template: no full copy was asked for.
    const clones = h.sim.requests().filter((r) => r.path.endsWith("/clone"));
    if (kind === "api") expect(clones.at(-1)?.params.full).toBe("0");

    await backend.start(ctx(), vmid);
    expect((await backend.status(ctx(), vmid)).state).toBe("running");
    const address = await backend.waitGuestIp(ctx(), vmid);
    expect(address.ipv4).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    expect(address.ipv4?.startsWith("127.")).toBe(false);
    expect(address.mac).toBe(/virtio=([^,]+)/.exec(String(config.net0))?.[1]?.toLowerCase());

    await backend.snapshotCreate(ctx(), vmid, "clean");
    await backend.snapshotRollback(ctx(), vmid, "clean");
    await backend.snapshotDelete(ctx(), vmid, "clean");
    expect((await backend.listVms(ctx())).map((v) => v.vmid)).toContain(vmid);

    await backend.stop(ctx(), vmid);
    await backend.stop(ctx(), vmid); // idempotent
    expect((await backend.status(ctx(), vmid)).state).toBe("stopped");
    await backend.destroy(ctx(), vmid);
    expect(h.sim.state.vms.has(vmid)).toBe(false);
    expect(existsSync(file)).toBe(false);
    expect((await failure(backend.status(ctx(), vmid))).kind).toBe("not_found");
  });

  it("1b: info, validateTemplate, listVms and volumes", async () => {
    const info = await backend.info(ctx());
    expect(info).toMatchObject({ kind: `proxmox-${kind}`, node: "pve" });
    expect(info.version).toMatch(/^pve-manager\/\d+\.\d+/);
    expect(await backend.validateTemplate(ctx(), 9000)).toEqual({ ok: true, problems: [] });
    const noAgent = await backend.validateTemplate(ctx(), 9003);
    expect(noAgent.ok).toBe(true); // the agent flag is on; the image simply lacks the agent
    const missing = await backend.validateTemplate(ctx(), 9876);
    expect(missing.ok).toBe(false);
    expect(missing.problems[0]).toContain("does not exist");
    h.sim.seedVm({ vmid: base + 90, name: "plain-vm", config: { agent: "0" } });
    const plain = await backend.validateTemplate(ctx(), base + 90);
    expect(plain.problems.join("\n")).toMatch(/qm template .*\n.*--agent enabled=1/s);

    const listed = await backend.listVms(ctx(), { includeForeign: true });
    expect(listed.find((v) => v.vmid === 9000)?.owned).toBe(false);
    expect((await backend.listVms(ctx())).some((v) => v.vmid === 9000)).toBe(false);

    const vmid = base + 91;
    await backend.provision(ctx(), spec(vmid));
    const { volid } = await backend.volumeCreate(ctx(), { storage: "local-zfs", name: `ws-${kind}`, sizeGb: 2 });
    expect(volid).toBe(`local-zfs:vm-999-ws-${kind}`);
    await backend.volumeAttach(ctx(), vmid, volid, "scsi1");
    expect(vmConfig(vmid).scsi1).toBe(volid);
    await backend.volumeDetach(ctx(), vmid, "scsi1");
    expect(vmConfig(vmid).scsi1).toBeUndefined();
    await backend.volumeDelete(ctx(), volid);
    await backend.volumeDelete(ctx(), volid); // already gone = done
    await backend.destroy(ctx(), vmid);
  });

  it("1c: a retried provision with the same request id never clones twice", async () => {
    const vmid = base + 3;
    const call = ctx(20_000, `same-${kind}`);
    const [a, b] = await Promise.all([backend.provision(call, spec(vmid)), backend.provision(call, spec(vmid))]);
    expect(a.vmid).toBe(vmid);
    expect(b.vmid).toBe(vmid);
    // A fresh runner process (no in-memory ledger) finds the VM by its description marker.
    const restarted = h.make(kind);
    expect((await restarted.provision({ ...call, deadline: Date.now() + 20_000 }, spec(vmid))).vmid).toBe(vmid);
    const clonesOfVmid = h.sim.state.tasks;
    const count = [...clonesOfVmid.values()].filter((t) => t.type === "qmclone" && t.upid && t.id === "9000").length;
    expect(count).toBeGreaterThan(0);
    expect((await failure(restarted.provision(ctx(), spec(vmid)))).kind).toBe("already_exists");
    await backend.destroy(ctx(), vmid);
  });

  it("2: ten concurrent provisions of one template on slow storage all succeed", async () => {
    // Storage allocation holds the storage flock longer than others wait for it (§1.6, §3).
    h.sim.state.storages.get("local-zfs")!.allocMs = 20_000;
    try {
      const vmids = Array.from({ length: 10 }, (_, i) => base + 100 + i);
      const results = await Promise.all(vmids.map((vmid) => backend.provision(ctx(120_000), spec(vmid))));
      expect(results.map((r) => r.vmid)).toEqual(vmids);
      expect(vmids.every((vmid) => h.sim.state.vms.has(vmid))).toBe(true);
      await Promise.all(vmids.map((vmid) => backend.destroy(ctx(60_000), vmid)));
      expect(vmids.some((vmid) => h.sim.state.vms.has(vmid))).toBe(false);
    } finally {
      h.sim.state.storages.get("local-zfs")!.allocMs = undefined;
    }
  }, 120_000);

  it("3: a VMID taken by someone else → already_exists; a race gives exactly one winner", async () => {
    h.sim.seedVm({ vmid: base + 4, name: "someone-else" });
    const err = await failure(backend.provision(ctx(), spec(base + 4)));
    expect(err.kind).toBe("already_exists");
    expect(h.sim.state.vms.get(base + 4)?.config.get("name")).toBe("someone-else");

    const other = h.make(kind);
    const outcomes = await Promise.allSettled([
      backend.provision(ctx(), spec(base + 5)),
      other.provision(ctx(), spec(base + 5)),
    ]);
    const won = outcomes.filter((o) => o.status === "fulfilled");
    const lost = outcomes.filter((o): o is PromiseRejectedResult => o.status === "rejected");
    expect(won).toHaveLength(1);
    expect(lost.map((o) => (o.reason as { kind: string }).kind)).toEqual(["already_exists"]);
    await backend.destroy(ctx(), base + 5);
  });

  it("4: start while the VM still carries lock: clone waits for the lock", async () => {
    const vmid = base + 6;
    await backend.provision(ctx(), spec(vmid));
    h.sim.state.vms.get(vmid)!.config.set("lock", "clone");
    setTimeout(() => h.sim.state.vms.get(vmid)?.config.delete("lock"), 300);
    await backend.start(ctx(), vmid);
    expect((await backend.status(ctx(), vmid)).state).toBe("running");
    await backend.destroy(ctx(), vmid);
  });

  it("5: a task ending in WARNINGS is a success", async () => {
    const vmid = base + 7;
    const ids = ["qmclone", "qmstart"].map((taskType) =>
      h.sim.faults.add({ match: { taskType }, times: 1, effect: { type: "taskWarn", count: 1 } }),
    );
    try {
      await backend.provision(ctx(), spec(vmid));
      await backend.start(ctx(), vmid);
      expect((await backend.status(ctx(), vmid)).state).toBe("running");
    } finally {
      for (const id of ids) h.sim.faults.remove(id);
    }
    await backend.destroy(ctx(), vmid);
  });

  it("6: guest agent — docker0 ignored, late IPv4 awaited, never/link-local-only time out cleanly", async () => {
    const docker = base + 8;
    await backend.provision(ctx(), spec(docker, { templateVmid: 9002 }));
    await backend.start(ctx(), docker);
    const ip = await backend.waitGuestIp(ctx(), docker);
    expect(ip.ipv4).not.toBe("172.17.0.1");

    const late = base + 9;
    await backend.provision(ctx(), spec(late));
    await backend.start(ctx(), late);
    h.sim.faults.add({ match: { vmid: late }, effect: { type: "ipLate", ms: 30_000 } });
    expect((await backend.waitGuestIp(ctx(), late)).ipv4).toBeDefined();

    const never = base + 10;
    await backend.provision(ctx(), spec(never, { templateVmid: 9003 }));
    await backend.start(ctx(), never);
    const neverErr = await failure(backend.waitGuestIp(ctx(1_500), never));
    expect(neverErr.kind).toBe("deadline");
    expect(neverErr.message).toContain("QEMU guest agent is not running");

    const linkLocal = base + 11;
    await backend.provision(ctx(), spec(linkLocal));
    await backend.start(ctx(), linkLocal);
    h.sim.faults.add({ match: { vmid: linkLocal }, effect: { type: "noIpv4" } });
    const llErr = await failure(backend.waitGuestIp(ctx(1_500), linkLocal));
    expect(llErr.kind).toBe("deadline");
    expect(llErr.message).toMatch(/fe80::/);
    for (const vmid of [docker, late, never, linkLocal]) await backend.destroy(ctx(), vmid);
  });

  it("7: a leaked lock: clone is reported with the unlock hint", async () => {
    const vmid = base + 12;
    const id = h.sim.faults.add({
      match: { taskType: "qmclone" },
      times: 1,
      effect: { type: "leakLock", lock: "clone" },
    });
    const err = await failure(backend.provision(ctx(1_500), spec(vmid)));
    h.sim.faults.remove(id);
    expect(err.kind).toBe("locked");
    expect(String(err.details.hint)).toContain(`qm unlock ${vmid}`);
  });

  it("8: stop/destroy of a missing VM succeed (sync and task forms); foreign VMs are refused", async () => {
    await backend.stop(ctx(), base + 13);
    await backend.destroy(ctx(), base + 13);

    const vmid = base + 14;
    await backend.provision(ctx(), spec(vmid));
    const id = h.sim.faults.add({
      match: { taskType: "qmdestroy" },
      times: 1,
      effect: { type: "taskFail", message: `unable to find configuration file for VM ${vmid} on node 'pve'` },
    });
    await backend.destroy(ctx(), vmid);
    h.sim.faults.remove(id);
    await backend.destroy(ctx(), vmid);
    expect(h.sim.state.vms.has(vmid)).toBe(false);

    h.sim.seedVm({ vmid: base + 15, name: "legacy-sandbox", running: true });
    expect((await failure(backend.stop(ctx(), base + 15))).kind).toBe("not_owned");
    expect((await failure(backend.destroy(ctx(), base + 15, { adopt: { vmid: base + 15, name: "other" } }))).kind).toBe(
      "not_owned",
    );
    await backend.destroy(ctx(), base + 15, { adopt: { vmid: base + 15, name: "legacy-sandbox" } });
    expect(h.sim.state.vms.has(base + 15)).toBe(false);
  });

  it("9: linked clone refused by the storage → full clone fallback", async () => {
    const vmid = base + 16;
    const info = await backend.provision(ctx(), spec(vmid, { templateVmid: 9001 }));
    expect(info.owned).toBe(true);
    expect(h.logs.some((l) => l.includes("falling back to a full clone"))).toBe(true);
    await backend.destroy(ctx(), vmid);
  });

  it("10: snippet missing at start → the start task's text, and destroy cleans up", async () => {
    const vmid = base + 17;
    await backend.provision(ctx(), spec(vmid));
    for (const name of await readdir(h.snippetsDir)) {
      if (name.startsWith(`agentlab-${vmid}-`)) await unlink(path.join(h.snippetsDir, name));
    }
    const err = await failure(backend.start(ctx(), vmid));
    expect(err.kind).toBe("task_failed");
    expect(err.message).toMatch(/can't find file 'local:snippets\/agentlab-/);
    await backend.destroy(ctx(), vmid);
    expect(h.sim.state.vms.has(vmid)).toBe(false);
  });
});
