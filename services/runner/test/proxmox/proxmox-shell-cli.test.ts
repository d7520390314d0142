import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCommandRunner } from "../../src/backends/proxmox-shell/qm-runner.js";
import { ctx, failure, type Harness, startHarness } from "./sim-harness.js";

/** Shell-only behaviour (reference/proxmox.md §2) against the simulator's fake CLI. */
describe("Proxmox shell backend: CLI hardening", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h?.close();
  });

  it("reports ipcc_send_rec as a host misconfiguration, without retrying", async () => {
    const backend = h.make("shell");
    const id = h.sim.faults.add({ match: { cli: "^pvesh" }, effect: { type: "cliIpcc" } });
    const err = await failure(backend.status(ctx(), 9000));
    h.sim.faults.remove(id);
    expect(err.kind).toBe("unavailable");
    expect(err.message).toContain("host misconfigured (systemd NoNewPrivileges/PrivateTmp?)");
    expect(String(err.details.hint)).toContain("NoNewPrivileges");
  });

  it("refuses control characters in any argument before running anything", async () => {
    const runner = createCommandRunner({ now: Date.now, env: { ...process.env, ...h.sim.cliEnv } });
    const err = await failure(runner.run(ctx(), "qm", ["set", "9000", "--description", "a\nb"]));
    expect(err.kind).toBe("invalid_argument");
    expect(err.message).toContain("control characters");
  });

  it("maps qm's missing-VM texts to not_found and stop/destroy treat them as done", async () => {
    const backend = h.make("shell");
    const err = await failure(backend.status(ctx(), 777));
    expect(err.kind).toBe("not_found");
    await backend.stop(ctx(), 777);
    await backend.destroy(ctx(), 777);
  });

  it("reports a missing binary clearly", async () => {
    const backend = h.make("shell", { commands: { pvesh: "/nonexistent/pvesh" } });
    const err = await failure(backend.status(ctx(), 9000));
    expect(err.kind).toBe("unavailable");
    expect(err.message).toContain("/nonexistent/pvesh");
  });
});
