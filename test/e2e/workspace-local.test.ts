/**
 * Workspaces end to end on the local backend: `workspace create|list|attach|detach|delete` through
 * the CLI binary against a real agentlabd, with the volume checked on disk and the refusals a user
 * meets (deleting an attached workspace) exiting non-zero.
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cliJson, cliOk, runCli } from "./support/agentlab-cli.js";
import { type AgentlabdProcess, startAgentlabd } from "./support/agentlabd-process.js";
import {
  createDeploymentDir,
  type DeploymentDir,
  freeLoopbackPort,
  LOCAL_SMOKE_PROFILE,
  writeDeploymentConfig,
  writeProfile,
} from "./support/deployment-dir.js";

interface WorkspaceJson {
  id: string;
  name: string;
  attached_vmid?: number;
}

describe("workspaces through the CLI on the local backend", () => {
  let deployment: DeploymentDir;
  let daemon: AgentlabdProcess | undefined;

  beforeAll(async () => {
    deployment = createDeploymentDir("workspace");
    writeProfile(deployment, "local-smoke.yaml", LOCAL_SMOKE_PROFILE);
    writeDeploymentConfig(deployment, {
      sandbox_backend: "local",
      bootstrap_listen: `127.0.0.1:${await freeLoopbackPort()}`,
      artifact_listen: `127.0.0.1:${await freeLoopbackPort()}`,
      agent_subnet: "127.0.0.0/8",
    });
    daemon = await startAgentlabd({ configPath: deployment.configPath, runDir: deployment.runDir });
  });

  afterAll(async () => {
    expect(await daemon?.stop()).toBe(0);
    deployment?.remove();
  });

  it("creates, lists, attaches, detaches and deletes a workspace", async () => {
    const socket = deployment.socketPath;
    const created = await cliJson<WorkspaceJson>(socket, ["workspace", "create", "--name", "ws-e2e", "--size", "1"]);
    expect(created.name).toBe("ws-e2e");
    expect(created.id).toBeTruthy();

    expect(await cliOk(socket, ["workspace", "list"])).toContain("ws-e2e");
    const listed = await cliJson<WorkspaceJson[]>(socket, ["workspace", "list"]);
    expect(listed.map((w) => w.name)).toEqual(["ws-e2e"]);
    // The local backend keeps a workspace as a directory under <sandboxDir>/volumes.
    expect(readdirSync(join(deployment.sandboxDir, "volumes"))).toEqual(["agentlab-ws-ws-e2e"]);

    const sandbox = await cliJson<{ vmid: number }>(socket, [
      "sandbox",
      "new",
      "--name",
      "ws-host",
      "--profile",
      "local-smoke",
    ]);
    // Local volumes are bind-mounted when a sandbox starts: attach and detach while it is stopped.
    await cliOk(socket, ["sandbox", "stop", "ws-host"]);
    const attached = await cliJson<WorkspaceJson>(socket, ["workspace", "attach", "ws-e2e", "ws-host"]);
    expect(attached.attached_vmid).toBe(sandbox.vmid);
    expect(await cliOk(socket, ["workspace", "list"])).toContain(String(sandbox.vmid));
    expect(await cliJson<{ state: string }>(socket, ["sandbox", "start", "ws-host"])).toMatchObject({ state: "READY" });
    // An attached workspace is not deleted from under its sandbox.
    const refused = await runCli(socket, ["workspace", "delete", "ws-e2e"]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain("attached");

    await cliOk(socket, ["sandbox", "stop", "ws-host"]);
    const detached = await cliJson<WorkspaceJson>(socket, ["workspace", "detach", "ws-e2e"]);
    expect(detached.attached_vmid ?? 0).toBe(0);
    await cliOk(socket, ["workspace", "delete", "ws-e2e"]);
    expect(await cliJson<WorkspaceJson[]>(socket, ["workspace", "list"])).toEqual([]);
    expect(readdirSync(join(deployment.sandboxDir, "volumes"))).toEqual([]);

    await cliOk(socket, ["sandbox", "destroy", "ws-host"]);
    expect(readdirSync(deployment.sandboxDir).filter((entry) => /^\d+$/.test(entry))).toEqual([]);
  });
});
