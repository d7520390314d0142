import { Agent, request } from "node:https";
import { afterEach, describe, expect, it } from "vitest";
import { createPveSim, type ManualClock, type PveSim, parseUpid, pveMessages } from "../src/index.js";
import { finishTask, pveRequest, settle, until } from "./helpers/pve-request.js";

let sim: PveSim | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

describe("REST basics (reference/proxmox.md §1.1–§1.3)", () => {
  it("serves PVE headers, the envelope, nextid as a string and the node fingerprint", async () => {
    sim = await createPveSim({ clock: "manual" });
    const version = await pveRequest(sim, "GET", "/version");
    expect(version.status).toBe(200);
    expect(version.headers.server).toBe("pve-api-daemon/3.0");
    expect(version.headers["content-type"]).toBe("application/json;charset=UTF-8");
    expect(version.headers["cache-control"]).toBe("max-age=0");
    expect(version.headers.pragma).toBe("no-cache");
    const nextid = await pveRequest(sim, "GET", "/cluster/nextid");
    expect(nextid.json).toEqual({ data: "100" });
    // nextid reserves nothing (rule 6).
    expect((await pveRequest(sim, "GET", "/cluster/nextid")).json).toEqual({ data: "100" });
    const nodes = await pveRequest(sim, "GET", "/nodes");
    const [node] = nodes.json!.data as Array<Record<string, unknown>>;
    expect(node).toMatchObject({ node: "pve", status: "online", ssl_fingerprint: sim.fingerprint });
    expect(sim.fingerprint).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    const taken = await pveRequest(sim, "GET", "/cluster/nextid?vmid=9000");
    expect(taken.status).toBe(400);
    expect(taken.json?.errors).toEqual({ vmid: "VM 9000 already exists" });
  });

  it("delays a 401 until the auth-failure delay has passed on the sim clock", async () => {
    sim = await createPveSim({ clock: "manual" });
    const clock = sim.clock as ManualClock;
    let answered = false;
    const pending = pveRequest(sim, "GET", "/version", { token: "root@pam!runner=wrong" }).then((r) => {
      answered = true;
      return r;
    });
    await until(() => clock.pendingTimers() > 0, "auth delay timer registered");
    await clock.advance(2_999);
    await settle();
    expect(answered).toBe(false);
    await clock.advance(1);
    const res = await pending;
    expect(res.status).toBe(401);
    expect(res.reason).toBe(pveMessages.authInvalidToken);
    const unknown = pveRequest(sim, "GET", "/version", { token: "root@pam!nope=x" });
    await until(() => clock.pendingTimers() > 0, "second auth delay");
    await clock.advance(3_000);
    expect((await unknown).reason).toBe("no such token 'nope' for user 'root@pam'");
  });

  it("answers 400 with an errors map for unknown keys, form booleans, DNS names and VMID range", async () => {
    sim = await createPveSim({ clock: "manual" });
    const res = await pveRequest(sim, "POST", "/nodes/pve/qemu/9000/clone", {
      form: { newid: "50", full: "true", name: "bad_name", cpulist: "0-3" },
    });
    expect(res.status).toBe(400);
    expect(res.reason).toBe("Parameter verification failed.");
    expect(res.json?.data).toBeNull();
    expect(res.json?.errors).toEqual({
      newid: "value must have a minimum value of 100",
      full: "type check ('boolean') failed - got 'true'",
      name: "invalid format - value does not look like a valid DNS name",
      cpulist: "property is not defined in schema and the schema does not allow additional properties",
    });
    // JSON bodies may use real booleans (§1.1).
    const json = await pveRequest(sim, "POST", "/nodes/pve/qemu/9000/clone", { json: { newid: 100, full: false } });
    expect(json.status).toBe(200);
  });

  it("answers 501 for unknown paths and 500 with the config-missing text for absent VMs", async () => {
    sim = await createPveSim({ clock: "manual" });
    const unknown = await pveRequest(sim, "GET", "/nodes/pve/nothing");
    expect(unknown.status).toBe(501);
    expect(unknown.reason).toBe("Method 'GET /nodes/pve/nothing' not implemented");
    const status = await pveRequest(sim, "GET", "/nodes/pve/qemu/123/status/current");
    expect(status.status).toBe(500);
    expect(status.reason).toBe("Configuration file 'nodes/pve/qemu-server/123.conf' does not exist");
    expect(status.json).toEqual({ data: null });
    const destroy = await pveRequest(sim, "DELETE", "/nodes/pve/qemu/123");
    expect(destroy.reason).toBe(pveMessages.configMissing("pve", 123));
    // stop forks before looking: the task carries the text (§1.5 stop).
    const stop = await pveRequest(sim, "POST", "/nodes/pve/qemu/123/status/stop");
    expect(stop.status).toBe(200);
    const upid = stop.json?.data as string;
    expect(await finishTask(sim, upid)).toBe("unable to find configuration file for VM 123 on node 'pve'");
  });

  it("closes every connection after its answer by default; keepAlive (a benchmark knob) keeps it", async () => {
    const threeOnOneAgent = async (s: PveSim) => {
      const agent = new Agent({ keepAlive: true, maxSockets: 1, ca: s.caPem });
      const headers: Array<string | undefined> = [];
      for (let i = 0; i < 3; i++) {
        headers.push(
          await new Promise<string | undefined>((resolve, reject) => {
            const req = request(
              new URL(`${s.url}/version`),
              { agent, headers: { authorization: `PVEAPIToken=${s.token}` } },
              (res) => {
                res.resume();
                res.on("end", () => resolve(res.headers.connection));
              },
            );
            req.on("error", reject);
            req.end();
          }),
        );
      }
      agent.destroy();
      return headers;
    };
    sim = await createPveSim({ clock: "manual" });
    expect(await threeOnOneAgent(sim)).toEqual(["close", "close", "close"]);
    expect(sim.connections()).toBe(3);
    await sim.close();
    sim = await createPveSim({ clock: "manual", keepAlive: true });
    expect(await threeOnOneAgent(sim)).toEqual(["keep-alive", "keep-alive", "keep-alive"]);
    expect(sim.connections()).toBe(1);
  });

  it("adds the body message on PVE 9 but not on 8.2", async () => {
    sim = await createPveSim({ clock: "manual", pveVersion: "8.2" });
    const old = await pveRequest(sim, "GET", "/nodes/pve/qemu/123/config");
    expect(old.json).toEqual({ data: null });
    await sim.close();
    sim = await createPveSim({ clock: "manual", pveVersion: "9" });
    const nine = await pveRequest(sim, "GET", "/nodes/pve/qemu/123/config");
    expect(nine.reason).toBe("Configuration file 'nodes/pve/qemu-server/123.conf' does not exist");
    expect(nine.json).toEqual({
      data: null,
      message: "Configuration file 'nodes/pve/qemu-server/123.conf' does not exist\n",
    });
  });

  it("reports tasks with the token user split, and `no such task` on the wrong node or unknown UPID", async () => {
    sim = await createPveSim({ clock: "manual" });
    const upid = (await pveRequest(sim, "POST", "/nodes/pve/qemu/9000/clone", { form: { newid: "100" } })).json
      ?.data as string;
    expect(parseUpid(upid)).toMatchObject({ node: "pve", type: "qmclone", id: "9000", user: "root@pam!runner" });
    const status = await pveRequest(sim, "GET", `/nodes/pve/tasks/${encodeURIComponent(upid)}/status`);
    expect(status.json?.data).toMatchObject({
      status: "running",
      type: "qmclone",
      id: "9000",
      user: "root@pam",
      tokenid: "runner",
    });
    const wrongNode = await pveRequest(sim, "GET", `/nodes/other/tasks/${encodeURIComponent(upid)}/status`);
    expect(wrongNode.status).toBe(400);
    expect(wrongNode.json?.errors).toEqual({ upid: "no such task" });
    const garbled = await pveRequest(sim, "GET", "/nodes/pve/tasks/UPID:nope/status");
    expect(garbled.json?.errors).toEqual({ upid: "unable to parse worker upid" });
    expect(await finishTask(sim, upid)).toBe("OK");
    const log = await pveRequest(sim, "GET", `/nodes/pve/tasks/${encodeURIComponent(upid)}/log`);
    const lines = (log.json!.data as Array<{ n: number; t: string }>).map((l) => l.t);
    expect(lines).toContain("create linked clone of drive scsi0 (local-zfs:base-9000-disk-0)");
    expect(lines.at(-1)).toBe("TASK OK");
  });
});
