/**
 * "Migrated sandboxes from an original database are listed and can be destroyed": the original
 * AgentLab tagged nothing, so after an in-place upgrade its VMs lack our ownership tag. The runner
 * adopts such a VM once — when the VMID and the name both match the migrated row — and refuses any
 * other untagged VM; `--force` then retires the row and leaves the VM alone. Real agentlabd on the
 * proxmox-api backend, pve-sim as the node (HTTPS on 127.0.0.1, pinned by fingerprint).
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { createPveSim, type PveSim } from "@agentlab/pve-sim";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildOriginalDatabase } from "../../services/control/test/db/original-database-builder.js";
import {
  cli,
  cliJson,
  createUpgradeDeployment,
  freeLoopbackPort,
  installShippedProfile,
  type RunningAgentlabd,
  startAgentlabd,
  type UpgradeDeployment,
  writeConfig,
} from "./support/upgrade-deployment.js";

interface SandboxJson {
  vmid: number;
  name: string;
  state: string;
  owned: boolean;
  termination_reason?: string;
}

/** Two more sandboxes as the original wrote them: RUNNING, untagged VMs on the node. */
const ADOPTABLE = { vmid: 2001, name: "migrated-ok" };
const MISMATCHED = { vmid: 2002, name: "migrated-mismatch", vmName: "someone-elses-vm" };
const RENAMED = { vmid: 1000, name: "alpha-1000", vmName: "alpha" };

function addOriginalSandbox(dbPath: string, vmid: number, name: string): void {
  const db = new Database(dbPath);
  db.prepare(
    `INSERT INTO sandboxes (vmid, name, profile, state, ip, keepalive, created_at, updated_at)
     VALUES (?, ?, 'yolo-ephemeral', 'RUNNING', '10.77.0.50', 0, '2025-01-15T10:00:00.5Z', '2025-01-15T10:00:01Z')`,
  ).run(vmid, name);
  db.close();
}

describe("adoption of sandboxes migrated from an original database (proxmox-api on pve-sim)", () => {
  let deployment: UpgradeDeployment;
  let sim: PveSim | undefined;
  let daemon: RunningAgentlabd | undefined;

  beforeAll(async () => {
    deployment = createUpgradeDeployment("adoption");
    const snippetsDir = join(deployment.dir, "snippets");
    mkdirSync(snippetsDir);
    sim = await createPveSim({ timeScale: 0.01, snippetsDir });
    const dbPath = join(deployment.dataDir, "agentlab.db");
    buildOriginalDatabase(dbPath, 3);
    // Leases in the future: lease expiry must not race the destroys below.
    const db = new Database(dbPath);
    db.prepare(`UPDATE sandboxes SET lease_expires_at = replace(lease_expires_at, '2025-', '2099-')`).run();
    db.close();
    addOriginalSandbox(dbPath, ADOPTABLE.vmid, ADOPTABLE.name);
    addOriginalSandbox(dbPath, MISMATCHED.vmid, MISMATCHED.name);
    // The original's VMs: no agentlab tag at all.
    sim.seedVm({ vmid: ADOPTABLE.vmid, name: ADOPTABLE.name, running: true });
    sim.seedVm({ vmid: MISMATCHED.vmid, name: MISMATCHED.vmName, running: true });
    // The fixture's RUNNING "alpha" (VMID 1000) shares its name with a newer live sandbox, so
    // migration 6 renames the row to alpha-1000; the VM the original made is still called alpha.
    sim.seedVm({ vmid: RENAMED.vmid, name: RENAMED.vmName, running: true });

    installShippedProfile(deployment, "yolo-ephemeral");
    writeConfig(deployment, {
      sandbox_backend: "proxmox",
      proxmox_backend: "api",
      proxmox_api_url: sim.baseUrl,
      proxmox_api_token: sim.token,
      proxmox_tls_fingerprint: sim.fingerprint,
      snippets_dir: snippetsDir,
      bootstrap_listen: `127.0.0.1:${await freeLoopbackPort()}`,
      artifact_listen: `127.0.0.1:${await freeLoopbackPort()}`,
      agent_subnet: "127.0.0.0/8",
    });
    daemon = await startAgentlabd(deployment);
  });

  afterAll(async () => {
    const code = await daemon?.stop();
    await sim?.close();
    deployment?.remove();
    expect(code, daemon?.stderr()).toBe(0);
  });

  const vmTags = (vmid: number) => sim?.state.vms.get(vmid)?.config.get("tags");

  it("lists the migrated sandboxes as not owned", async () => {
    const listed = await cliJson<SandboxJson[]>(deployment, ["sandbox", "list"]);
    expect(listed).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ ...ADOPTABLE, state: "RUNNING", owned: false }),
        expect.objectContaining({ vmid: MISMATCHED.vmid, name: MISMATCHED.name, state: "RUNNING", owned: false }),
      ]),
    );
  });

  it("destroys a migrated sandbox whose VM has the same VMID and name: the runner adopts it", async () => {
    const destroyed = await cliJson<SandboxJson>(deployment, ["sandbox", "destroy", ADOPTABLE.name]);
    expect(destroyed).toMatchObject({ ...ADOPTABLE, state: "DESTROYED" });
    expect(sim?.state.vms.has(ADOPTABLE.vmid)).toBe(false);
    // Adoption tagged the VM as ours before destroying it.
    const tagged = sim
      ?.requests()
      .some((r) => r.source === "api" && r.method === "PUT" && r.path.endsWith(`/qemu/${ADOPTABLE.vmid}/config`));
    expect(tagged).toBe(true);
  });

  it("adopts a sandbox that migration 6 renamed, by the name the original gave its VM", async () => {
    const listed = await cliJson<SandboxJson[]>(deployment, ["sandbox", "list"]);
    expect(listed).toEqual(
      expect.arrayContaining([expect.objectContaining({ vmid: RENAMED.vmid, name: RENAMED.name, owned: false })]),
    );
    const destroyed = await cliJson<SandboxJson>(deployment, ["sandbox", "destroy", RENAMED.name]);
    expect(destroyed).toMatchObject({ vmid: RENAMED.vmid, name: RENAMED.name, state: "DESTROYED" });
    expect(sim?.state.vms.has(RENAMED.vmid)).toBe(false);
  });

  it("refuses a migrated sandbox whose VM carries another name, and leaves the VM alone", async () => {
    const refused = await cli(deployment, ["sandbox", "destroy", MISMATCHED.name]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`refusing to destroy VM ${MISMATCHED.vmid}`);
    expect(refused.stderr).toContain(MISMATCHED.vmName);
    // As a script sees it: the runner's refusal arrives as PERMISSION_DENIED.
    const asJson = await cli(deployment, ["sandbox", "destroy", MISMATCHED.name, "--output", "json"]);
    expect(asJson.code).toBe(1);
    expect(JSON.parse(asJson.stdout)).toMatchObject({ error: { code: "permission_denied" } });
    expect(sim?.state.vms.get(MISMATCHED.vmid)?.runState).toBe("running");
    expect(vmTags(MISMATCHED.vmid) ?? "").not.toContain("agentlab");
    const shown = await cliJson<SandboxJson>(deployment, ["sandbox", "show", MISMATCHED.name]);
    expect(shown).toMatchObject({ state: "RUNNING", owned: false });
  });

  it("--force retires the row and still leaves the VM alone", async () => {
    const forced = await cliJson<SandboxJson>(deployment, ["sandbox", "destroy", MISMATCHED.name, "--force"]);
    expect(forced).toMatchObject({ vmid: MISMATCHED.vmid, state: "DESTROYED" });
    expect(forced.termination_reason).toContain("forced; the VM may remain");
    expect(sim?.state.vms.get(MISMATCHED.vmid)?.runState).toBe("running");
    expect(vmTags(MISMATCHED.vmid) ?? "").not.toContain("agentlab");
    const listed = await cliJson<SandboxJson[]>(deployment, ["sandbox", "list"]);
    expect(listed.map((s) => s.vmid)).not.toContain(MISMATCHED.vmid);
  });
});
