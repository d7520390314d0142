/**
 * The upgrade guide's smoke test (reference/upgrade-guide.md "Smoke Tests"), step by step through
 * the real CLI: every command must exit 0 and say something sane. Shared by the smoke test of each
 * backend so all three are held to the same promise.
 */
import { expect } from "vitest";
import { cliJson, cliOk } from "./agentlab-cli.js";

export interface SandboxJson {
  vmid: number;
  name: string;
  profile: string;
  state: string;
  backend?: string;
  ip?: string;
  termination_reason?: string;
}

interface StatusJson {
  deployment_id: string;
  sandbox_backend: string;
  peers: Array<{ kind: string; reachable: boolean }>;
}

export async function runUpgradeSmokeTest(
  socket: string,
  expected: { profile: string; backend: "local" | "proxmox"; deploymentId: string },
): Promise<SandboxJson> {
  // 1. The daemon is running and its peers answer.
  const statusText = await cliOk(socket, ["status"]);
  expect(statusText).toContain(expected.deploymentId);
  const status = await cliJson<StatusJson>(socket, ["status"]);
  expect(status.deployment_id).toBe(expected.deploymentId);
  expect(status.sandbox_backend).toBe(expected.backend);
  expect(status.peers.length).toBeGreaterThan(0);
  for (const peer of status.peers) expect(peer, `peer ${peer.kind}`).toMatchObject({ reachable: true });

  // 2. Existing sandboxes: none yet on a fresh deployment, and the command still succeeds.
  await cliOk(socket, ["sandbox", "list"]);
  expect(await cliJson<SandboxJson[]>(socket, ["sandbox", "list"])).toEqual([]);

  // 3. Profiles load.
  expect(await cliOk(socket, ["profile", "list"])).toContain(expected.profile);

  // 4. Create the test sandbox; `new` waits until it is READY.
  const created = await cliOk(socket, ["sandbox", "new", "--name", "test-upgrade", "--profile", expected.profile]);
  expect(created).toContain("test-upgrade");
  expect(created).toContain("READY");

  // 5. Its state, by name, in text and JSON.
  expect(await cliOk(socket, ["sandbox", "show", "test-upgrade"])).toContain("READY");
  const shown = await cliJson<SandboxJson>(socket, ["sandbox", "show", "test-upgrade"]);
  expect(shown).toMatchObject({ name: "test-upgrade", profile: expected.profile, state: "READY" });
  expect(typeof shown.vmid).toBe("number");
  expect(shown.ip).toMatch(/^\d+\.\d+\.\d+\.\d+$/);

  // The list, as a script reads it: an array of objects with name and profile.
  const listed = await cliJson<SandboxJson[]>(socket, ["sandbox", "list"]);
  expect(Array.isArray(listed)).toBe(true);
  expect(listed).toEqual([expect.objectContaining({ name: "test-upgrade", profile: expected.profile })]);
  expect(await cliOk(socket, ["sandbox", "list"])).toContain("test-upgrade");

  // 6. Clean up.
  const destroyed = await cliJson<SandboxJson>(socket, ["sandbox", "destroy", "test-upgrade"]);
  expect(destroyed).toMatchObject({ name: "test-upgrade", state: "DESTROYED" });
  expect(await cliJson<SandboxJson[]>(socket, ["sandbox", "list"])).toEqual([]);
  return shown;
}
