import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ctx, failure, type Harness, spec, startHarness } from "./sim-harness.js";

/**
 * API-only §5.7 scenarios: 11 (auth, 59x bursts, slow and hung connections — bounded retries only
 * for idempotent calls, a clone is never blindly re-sent), 12 (8.2 reason phrase vs 9 body message)
 * and 13 (TLS trust modes).
 */
describe("Proxmox API backend: transport faults (§5.7 scenario 11)", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ pveVersion: "9.0" });
  });
  afterAll(async () => {
    await h?.close();
  });
  const countRequests = (method: string, suffix: string) =>
    h.sim.requests().filter((r) => r.method === method && r.path.endsWith(suffix)).length;

  it("401 with a bad token (delayed) is auth and is not retried", async () => {
    const backend = h.make("api", { apiToken: "root@pam!runner=00000000-0000-0000-0000-000000000000" });
    const before = h.sim.requests().length;
    const err = await failure(backend.status(ctx(), 9000));
    expect(err.kind).toBe("auth");
    expect(err.message).toContain("HTTP 401");
    expect(err.message).not.toContain("00000000-0000"); // the secret never lands in errors
    expect(h.sim.requests().length - before).toBe(1);
  });

  it("403 permission failures are auth with Proxmox's text", async () => {
    const backend = h.make("api");
    const id = h.sim.faults.add({
      match: { path: "/qemu/9000/config$" },
      times: 1,
      effect: { type: "http", status: 403, reason: "Permission check failed (/vms/9000, VM.Audit)" },
    });
    const err = await failure(backend.status(ctx(), 9000));
    h.sim.faults.remove(id);
    expect(err.kind).toBe("auth");
    expect(err.message).toContain("Permission check failed (/vms/9000, VM.Audit)");
  });

  it("a burst of 596/595 on reads is retried a bounded number of times", async () => {
    const backend = h.make("api");
    const id = h.sim.faults.add({
      match: { method: "GET", path: "/qemu/9000/config$" },
      times: 2,
      effect: { type: "http", status: 596, reason: "Connection timed out" },
    });
    expect((await backend.status(ctx(), 9000)).vmid).toBe(9000);
    h.sim.faults.remove(id);

    const always = h.sim.faults.add({
      match: { method: "GET", path: "/qemu/9000/config$" },
      effect: { type: "http", status: 595, reason: "Connection refused" },
    });
    const before = countRequests("GET", "/9000/config");
    const err = await failure(backend.status(ctx(), 9000));
    h.sim.faults.remove(always);
    expect(err.kind).toBe("unreachable"); // not not_found: Proxmox did not answer
    expect(countRequests("GET", "/9000/config") - before).toBe(3);
  });

  it("a hung connection times out per request and reads give up after bounded retries", async () => {
    const backend = h.make("api", { requestTimeoutMs: 200 });
    const id = h.sim.faults.add({
      match: { method: "GET", path: "/qemu/9000/status/current$" },
      effect: { type: "hang" },
    });
    const before = countRequests("GET", "/9000/status/current");
    const err = await failure(backend.status(ctx(), 9000));
    h.sim.faults.remove(id);
    expect(err.kind).toBe("unreachable");
    expect(countRequests("GET", "/9000/status/current") - before).toBe(3);
  });

  it("a clone answered too late is found, not re-sent", async () => {
    const backend = h.make("api", { requestTimeoutMs: 150 });
    const vmid = 3001;
    // The POST is held 300 ms (scaled), then the clone really happens: our 150 ms timeout fires first.
    const id = h.sim.faults.add({
      match: { method: "POST", path: "/clone$" },
      times: 1,
      effect: { type: "delay", ms: 30_000 },
    });
    const before = countRequests("POST", "/clone");
    const info = await backend.provision(ctx(), spec(vmid));
    h.sim.faults.remove(id);
    expect(info.owned).toBe(true);
    expect(countRequests("POST", "/clone") - before).toBe(1);
    await backend.destroy(ctx(), vmid);
  });

  it("a clone lost to a 595 (never reached pvedaemon) is re-sent only after looking", async () => {
    const backend = h.make("api");
    const vmid = 3002;
    const id = h.sim.faults.add({
      match: { method: "POST", path: "/clone$" },
      times: 1,
      effect: { type: "http", status: 595, reason: "Connection refused" },
    });
    const before = h.sim.requests().length;
    await backend.provision(ctx(), spec(vmid));
    h.sim.faults.remove(id);
    const after = h.sim
      .requests()
      .slice(before)
      .map((r) => `${r.method} ${r.path.replace(/.*\/qemu\//, "")}`);
    const firstClone = after.indexOf("POST 9000/clone");
    const secondClone = after.indexOf("POST 9000/clone", firstClone + 1);
    expect(secondClone).toBeGreaterThan(firstClone);
    expect(after.slice(firstClone + 1, secondClone)).toContain(`GET ${vmid}/config`);
    await backend.destroy(ctx(), vmid);
  });

  it("a connection reset on stop is checked, then the stop is completed", async () => {
    const backend = h.make("api");
    const vmid = 3003;
    await backend.provision(ctx(), spec(vmid));
    await backend.start(ctx(), vmid);
    const id = h.sim.faults.add({
      match: { method: "POST", path: "/status/stop$" },
      times: 1,
      effect: { type: "reset" },
    });
    await backend.stop(ctx(), vmid);
    h.sim.faults.remove(id);
    expect((await backend.status(ctx(), vmid)).state).toBe("stopped");
    await backend.destroy(ctx(), vmid);
  });
});

describe.each(["8.2", "9.0"])("Proxmox API backend: error texts on PVE %s (§5.7 scenario 12)", (pveVersion) => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ pveVersion });
  });
  afterAll(async () => {
    await h?.close();
  });

  it("a missing VM is not_found from the reason phrase or the body message", async () => {
    const err = await failure(h.make("api").status(ctx(), 4242));
    expect(err.kind).toBe("not_found");
    expect(err.message).toContain("Configuration file 'nodes/pve/qemu-server/4242.conf' does not exist");
  });

  it("a locked VM is locked, a taken VMID already_exists", async () => {
    const backend = h.make("api");
    h.sim.seedVm({ vmid: 4300, name: "taken" });
    expect((await failure(backend.provision(ctx(), spec(4300)))).kind).toBe("already_exists");
    await backend.provision(ctx(), spec(4301));
    h.sim.state.vms.get(4301)!.config.set("lock", "backup");
    const err = await failure(backend.snapshotCreate(ctx(800), 4301, "s1"));
    expect(err.kind).toBe("locked");
    expect(err.message).toContain("VM is locked (backup)");
    h.sim.state.vms.get(4301)!.config.delete("lock");
    await backend.destroy(ctx(), 4301);
  });
});

describe("Proxmox API backend: connection reuse", () => {
  let closing: Harness | undefined;
  let keeping: Harness | undefined;
  afterAll(async () => {
    await closing?.close();
    await keeping?.close();
  });

  it("opens a connection per request while Proxmox says Connection: close, and reuses one when it allows", async () => {
    closing = await startHarness();
    const perRequest = closing.make("api");
    await perRequest.status(ctx(), 9000); // the first call also probes the pinned certificate
    let before = closing.sim.connections();
    const requestsBefore = closing.sim.requests().length;
    await perRequest.status(ctx(), 9000);
    await perRequest.status(ctx(), 9000);
    expect(closing.sim.connections() - before).toBe(closing.sim.requests().length - requestsBefore);

    keeping = await startHarness({ keepAlive: true });
    const reusing = keeping.make("api");
    await reusing.status(ctx(), 9000);
    before = keeping.sim.connections();
    await reusing.status(ctx(), 9000);
    await reusing.status(ctx(), 9000);
    expect(keeping.sim.connections()).toBe(before);
  });
});

describe("Proxmox API backend: TLS (§5.7 scenario 13)", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h?.close();
  });

  it("accepts the pinned fingerprint, connecting by an address outside the SANs' checks", async () => {
    const backend = h.make("api", { tls: { fingerprint: h.sim.fingerprint.toLowerCase() } });
    expect((await backend.info(ctx())).node).toBe("pve");
  });

  it("refuses a wrong fingerprint before sending the token", async () => {
    const wrong = h.sim.fingerprint.replace(/^../, h.sim.fingerprint.startsWith("AA") ? "BB" : "AA");
    const before = h.sim.requests().length;
    const err = await failure(h.make("api", { tls: { fingerprint: wrong } }).info(ctx()));
    expect(err.kind).toBe("tls");
    expect(err.message).toContain("expected");
    expect(h.sim.requests().length).toBe(before);
  });

  it("trusts a CA file", async () => {
    const backend = h.make("api", { tls: { caFile: h.sim.caFile } });
    expect((await backend.info(ctx())).node).toBe("pve");
  });

  it("refuses the self-signed certificate without trust settings", async () => {
    const err = await failure(h.make("api", { tls: {} }).info(ctx()));
    expect(err.kind).toBe("tls");
  });

  it("connects with insecure, and says so loudly", async () => {
    const backend = h.make("api", { tls: { insecure: true } });
    expect((await backend.info(ctx())).node).toBe("pve");
    expect(h.logs.some((l) => l.includes("TLS VERIFICATION IS OFF"))).toBe(true);
  });

  it("refuses more than one trust mode", () => {
    expect(() => h.make("api", { tls: { insecure: true, fingerprint: h.sim.fingerprint } })).toThrow(
      /mutually exclusive/,
    );
  });
});
