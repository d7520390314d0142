// A sandbox migrated from the original AgentLab has no owner tag; its VM can be adopted once (VMID
// and name match) — unless adopt_untagged_vms is off, as in a staging copy that shares a
// hypervisor with production: then nothing of production's is ever stopped or destroyed.

import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { SandboxSelectorSchema, SandboxState } from "@agentlab/api";
import { createLocalBackend } from "@agentlab/runner/backends/local/local-backend";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterEach, describe, expect, it } from "vitest";
import { type ControlHarness, startControlHarness } from "../support/control-harness.js";

const byName = (name: string) => create(SandboxSelectorSchema, { selector: { case: "name", value: name } });

/**
 * A sandbox VM as the original AgentLab left it: no ownership tag (made here by another backend and
 * its tag removed from the state file), plus the original's row for it.
 */
async function migratedSandbox(h: ControlHarness, vmid: number, name: string): Promise<void> {
  const ctx = { requestId: `seed-${vmid}`, deadline: Date.now() + 60_000 };
  // Another deployment's backend over the same sandbox directory: its VM carries a tag that is not ours.
  const original = createLocalBackend({ sandboxDir: h.config.local_sandbox_dir, ownerTag: "agentlab-original" });
  await original.provision(ctx, {
    vmid,
    name,
    network: { localMode: "none" },
    bootstrapJson: "{}",
    ownerTag: "agentlab-original",
  });
  await original.start(ctx, vmid);
  await original.close();
  const stateFile = join(h.config.local_sandbox_dir, String(vmid), "state.json");
  const state = JSON.parse(readFileSync(stateFile, "utf8")) as { ownerTag?: string; tags?: string[] };
  writeFileSync(stateFile, JSON.stringify({ ...state, ownerTag: "", tags: [] }));
  const now = h.clock.now().toISOString();
  h.app.db
    .prepare(
      `INSERT INTO sandboxes (vmid, name, profile, state, keepalive, created_at, updated_at, owner_tag)
       VALUES (?, ?, 'local-test', 'RUNNING', 0, ?, ?, NULL)`,
    )
    .run(vmid, name, now, now);
}

describe("adopting VMs of sandboxes migrated from the original AgentLab", () => {
  let h: ControlHarness;
  afterEach(async () => {
    await h.close();
  });

  it("adopts and destroys the VM when VMIDs and names match", async () => {
    h = await startControlHarness();
    await migratedSandbox(h, 5000, "legacy-one");
    const { sandbox } = await h.clients.sandboxes.destroySandbox({ sandbox: byName("legacy-one") });
    expect(sandbox?.state).toBe(SandboxState.DESTROYED);
    const left = await h.backend.listVms({ requestId: "l", deadline: Date.now() + 30_000 }, { includeForeign: true });
    expect(left.map((vm) => vm.vmid)).not.toContain(5000);
  });

  it("never adopts a VM carrying another deployment's tag", async () => {
    h = await startControlHarness();
    const ctx = { requestId: "seed-other", deadline: Date.now() + 60_000 };
    const other = createLocalBackend({ sandboxDir: h.config.local_sandbox_dir, ownerTag: "agentlab-staging" });
    await other.provision(ctx, {
      vmid: 5002,
      name: "theirs",
      network: { localMode: "none" },
      bootstrapJson: "{}",
      ownerTag: "agentlab-staging",
    });
    await other.close();
    const now = h.clock.now().toISOString();
    h.app.db
      .prepare(
        `INSERT INTO sandboxes (vmid, name, profile, state, keepalive, created_at, updated_at, owner_tag) VALUES (5002, 'theirs', 'local-test', 'STOPPED', 0, ?, ?, NULL)`,
      )
      .run(now, now);
    const err = await h.clients.sandboxes.destroySandbox({ sandbox: byName("theirs") }).catch((e: unknown) => e);
    expect((err as ConnectError).code).toBe(Code.PermissionDenied);
    const left = await h.backend.listVms({ requestId: "l", deadline: Date.now() + 30_000 }, { includeForeign: true });
    expect(left.map((vm) => vm.vmid)).toContain(5002);
  });

  it("never adopts with adopt_untagged_vms off: the destroy is refused and the VM stays", async () => {
    h = await startControlHarness({ config: { adopt_untagged_vms: false } });
    await migratedSandbox(h, 5001, "legacy-two");
    const err = await h.clients.sandboxes.destroySandbox({ sandbox: byName("legacy-two") }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).code).toBe(Code.PermissionDenied);
    const left = await h.backend.listVms({ requestId: "l", deadline: Date.now() + 30_000 }, { includeForeign: true });
    expect(left.map((vm) => vm.vmid)).toContain(5001);
    // The refused VM is still running: end it here, as its operator would, so no process outlives the test.
    await h.backend.destroy({ requestId: "cleanup", deadline: Date.now() + 30_000 }, 5001, {
      adopt: { vmid: 5001, name: "legacy-two" },
    });
  });
});
