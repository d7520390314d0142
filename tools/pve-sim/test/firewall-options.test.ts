import { afterEach, describe, expect, it } from "vitest";
import { createPveSim, type PveSim, pveMessages } from "../src/index.js";
import { finishTask, pveRequest } from "./helpers/pve-request.js";

/**
 * VM firewall options (pve-firewall `GET|PUT …/qemu/{vmid}/firewall/options`): the switch without
 * which a VM's rules — security groups included — filter nothing on a real host.
 */
let sim: PveSim | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

const OPTIONS = "/nodes/pve/qemu/100/firewall/options";
/** SHA-1 of nothing: the digest of a file without options (pve-firewall copy_opject_with_digest). */
const EMPTY_DIGEST = "da39a3ee5e6b4b0d3255bfef95601890afd80709";

async function clone(s: PveSim, source: number, newid: number): Promise<void> {
  const res = await pveRequest(s, "POST", `/nodes/pve/qemu/${source}/clone`, { form: { newid: String(newid) } });
  expect(res.status).toBe(200);
  expect(await finishTask(s, res.json?.data as string)).toBe("OK");
}

const get = async (s: PveSim, path = OPTIONS) =>
  (await pveRequest(s, "GET", path)).json?.data as Record<string, unknown>;

describe("GET|PUT …/qemu/{vmid}/firewall/options", () => {
  it("starts with no options (enable absent = off), sets given fields synchronously, keeps the others", async () => {
    sim = await createPveSim({ clock: "manual" });
    await clone(sim, 9000, 100);
    expect(await get(sim)).toEqual({ digest: EMPTY_DIGEST });

    const put = await pveRequest(sim, "PUT", OPTIONS, { form: { enable: "1", policy_in: "DROP" } });
    expect([put.status, put.json?.data]).toEqual([200, null]); // null, not a UPID: no task
    const set = await get(sim);
    expect(set).toMatchObject({ enable: 1, policy_in: "DROP" });
    expect(set.digest).toMatch(/^[0-9a-f]{40}$/);

    // A second PUT touches only what it names; `delete=` drops an option.
    await pveRequest(sim, "PUT", OPTIONS, { form: { dhcp: "0", log_level_in: "info", delete: "policy_in" } });
    expect(await get(sim)).toEqual({ enable: 1, dhcp: 0, log_level_in: "info", digest: expect.any(String) });
    expect(sim.state.vmFirewallOptions.get(100)).toEqual({ enable: 1, dhcp: 0, log_level_in: "info" });
  });

  it("checks values like PVE's schema: 400 with an errors map, and nothing changes", async () => {
    sim = await createPveSim({ clock: "manual" });
    const put = (form: Record<string, string>) => pveRequest(sim!, "PUT", OPTIONS, { form });
    const flag = await put({ enable: "yes" });
    expect([flag.status, flag.reason]).toEqual([400, pveMessages.paramVerificationFailed]);
    expect(flag.json?.errors).toEqual({ enable: pveMessages.paramTypeCheck("boolean", "yes") });
    const policy = await put({ policy_out: "ALLOW" });
    expect(policy.json?.errors).toEqual({
      policy_out: pveMessages.paramEnum("ALLOW", ["ACCEPT", "REJECT", "DROP"]),
    });
    const level = await put({ log_level_out: "loud" });
    expect(level.json?.errors?.log_level_out).toContain("does not have a value in the enumeration");
    const unknown = await put({ enable: "1", firewall: "1" });
    expect([unknown.status, unknown.json?.errors]).toEqual([400, { firewall: pveMessages.paramUnknown }]);
    const del = await put({ delete: "enable,bogus" });
    expect([del.status, del.json?.errors]).toEqual([400, { delete: pveMessages.firewallNoSuchOption("bogus") }]);
    expect(await get(sim)).toEqual({ digest: EMPTY_DIGEST });
    expect((await pveRequest(sim, "GET", "/nodes/elsewhere/qemu/100/firewall/options")).reason).toBe(
      pveMessages.noSuchNode("elsewhere"),
    );
  });

  it("refuses a PUT whose digest is stale", async () => {
    sim = await createPveSim({ clock: "manual" });
    const { digest } = await get(sim);
    await pveRequest(sim, "PUT", OPTIONS, { form: { enable: "1" } });
    const stale = await pveRequest(sim, "PUT", OPTIONS, { form: { enable: "0", digest: String(digest) } });
    expect([stale.status, stale.reason]).toEqual([500, pveMessages.firewallDigestMismatch]);
    const fresh = await get(sim);
    const ok = await pveRequest(sim, "PUT", OPTIONS, { form: { enable: "0", digest: String(fresh.digest) } });
    expect(ok.status).toBe(200);
    expect((await get(sim)).enable).toBe(0);
  });

  it("clone copies the source's options with its rules; destroy removes both", async () => {
    sim = await createPveSim({ clock: "manual" });
    const template = "/nodes/pve/qemu/9000/firewall";
    await pveRequest(sim, "PUT", `${template}/options`, { form: { enable: "1", policy_in: "REJECT" } });
    await pveRequest(sim, "POST", `${template}/rules`, {
      form: { type: "group", action: "agent_nat_off", enable: "1" },
    });
    await clone(sim, 9000, 100);
    expect(await get(sim)).toMatchObject({ enable: 1, policy_in: "REJECT" });
    expect(sim.state.vmFirewallRules.get(100)).toHaveLength(1);
    // The copy is the clone's own: changing it leaves the template alone.
    await pveRequest(sim, "PUT", OPTIONS, { form: { enable: "0" } });
    expect((await get(sim, `${template}/options`)).enable).toBe(1);

    const destroy = await pveRequest(sim, "DELETE", "/nodes/pve/qemu/100");
    expect(await finishTask(sim, destroy.json?.data as string)).toBe("OK");
    expect(await get(sim)).toEqual({ digest: EMPTY_DIGEST });
    expect(sim.state.vmFirewallRules.has(100)).toBe(false);
  });

  it("pvesh get|set on the same path: set prints nothing and exits 0, a bad value exits 255 with PVE's 400 text", async () => {
    sim = await createPveSim({ timeScale: 0.001 });
    const path = "/nodes/pve/qemu/9000/firewall/options";
    expect(await sim.runCli(["pvesh", "set", path, "--enable", "1"])).toEqual({ stdout: "", stderr: "", exitCode: 0 });
    const listed = await sim.runCli(["pvesh", "get", path, "--output-format", "json"]);
    expect(JSON.parse(listed.stdout)).toMatchObject({ enable: 1 });
    const bad = await sim.runCli(["pvesh", "set", path, "--policy_in", "maybe"]);
    expect(bad.exitCode).toBe(255);
    expect(bad.stderr).toContain(`400 ${pveMessages.paramVerificationFailed}`);
    expect(bad.stderr).toContain(`policy_in: ${pveMessages.paramEnum("maybe", ["ACCEPT", "REJECT", "DROP"])}`);
    expect(sim.state.vmFirewallOptions.get(9000)).toEqual({ enable: 1 });
  });
});
