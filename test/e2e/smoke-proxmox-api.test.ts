/**
 * The upgrade smoke test against a real agentlabd on the proxmox-api backend, with the Proxmox VE
 * simulator standing in for the node (its HTTPS API on 127.0.0.1, pinned by fingerprint).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type PveSimDeployment, startPveSimDeployment } from "./support/pve-sim-deployment.js";
import { runUpgradeSmokeTest } from "./support/smoke-steps.js";

describe("upgrade smoke test: agentlabd on the proxmox-api backend and pve-sim", () => {
  let d: PveSimDeployment;

  beforeAll(async () => {
    d = await startPveSimDeployment("api");
  });

  afterAll(async () => {
    expect(await d?.close()).toBe(0);
  });

  it("status, sandbox list, profile list, sandbox new/show/destroy all exit 0 with sane output", async () => {
    const shown = await runUpgradeSmokeTest(d.deployment.socketPath, {
      profile: "yolo-ephemeral",
      backend: "proxmox",
      deploymentId: "e2e",
    });
    // READY came from the guest agent's IPv4 on net0 (the sim hands out TEST-NET-2 addresses).
    expect(shown.ip).toMatch(/^198\.51\.100\./);
    expect(d.sim.requests().some((r) => r.source === "api" && r.path.endsWith("/9000/clone"))).toBe(true);
    // yolo-ephemeral's `mode: nat` group filters only once the VM's own firewall is on.
    expect(d.sim.requests().some((r) => r.method === "PUT" && r.path.endsWith("/firewall/options"))).toBe(true);
    // The VM is gone from the node, and the template was left alone.
    expect([...d.sim.state.vms.keys()]).toEqual([9000]);
  });
});
