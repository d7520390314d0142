/**
 * A control restart with a live local sandbox (DESIGN §1: the runner holds no state; the local
 * backend re-adopts sandboxes from their state.json). agentlabd is stopped with SIGTERM while a
 * sandbox is READY; the sandbox's processes must survive, and the next agentlabd on the same config
 * must show it READY and destroy it completely.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cliJson, cliOk } from "./support/agentlab-cli.js";
import { type AgentlabdProcess, startAgentlabd } from "./support/agentlabd-process.js";
import {
  createDeploymentDir,
  type DeploymentDir,
  freeLoopbackPort,
  LOCAL_SMOKE_PROFILE,
  writeDeploymentConfig,
  writeProfile,
} from "./support/deployment-dir.js";

/** Alive and not a zombie: /proc/<pid>/stat's state field (after the parenthesised name) is not Z. */
function processAlive(pid: number): boolean {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return false;
  }
  return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
}

describe("control restart with a live local sandbox", () => {
  let deployment: DeploymentDir;
  let daemon: AgentlabdProcess | undefined;
  let sandboxPid: number | undefined;

  beforeAll(async () => {
    deployment = createDeploymentDir("restart");
    writeProfile(deployment, "local-smoke.yaml", LOCAL_SMOKE_PROFILE);
    writeDeploymentConfig(deployment, {
      sandbox_backend: "local",
      bootstrap_listen: `127.0.0.1:${await freeLoopbackPort()}`,
      artifact_listen: `127.0.0.1:${await freeLoopbackPort()}`,
      agent_subnet: "127.0.0.0/8",
    });
  });

  afterAll(async () => {
    await daemon?.stop();
    // If an assertion failed midway, do not leave the sandbox running behind the test.
    if (sandboxPid !== undefined && processAlive(sandboxPid)) process.kill(-sandboxPid, "SIGKILL");
    deployment?.remove();
  });

  it("keeps the sandbox across SIGTERM, shows it READY after the restart, then destroys it completely", async () => {
    const start = () => startAgentlabd({ configPath: deployment.configPath, runDir: deployment.runDir });
    const socket = deployment.socketPath;
    daemon = await start();
    const created = await cliJson<{ vmid: number; state: string }>(socket, [
      "sandbox",
      "new",
      "--name",
      "survivor",
      "--profile",
      "local-smoke",
    ]);
    expect(created.state).toBe("READY");
    const sandboxDir = join(deployment.sandboxDir, String(created.vmid));
    const state = JSON.parse(readFileSync(join(sandboxDir, "state.json"), "utf8")) as { pid?: number };
    expect(state.pid).toBeTypeOf("number");
    sandboxPid = state.pid as number;
    expect(processAlive(sandboxPid)).toBe(true);

    expect(await daemon.stop()).toBe(0);
    daemon = undefined;
    expect(existsSync(socket)).toBe(false);
    expect(processAlive(sandboxPid)).toBe(true);

    daemon = await start();
    const shown = await cliJson<{ vmid: number; state: string; name: string }>(socket, ["sandbox", "show", "survivor"]);
    expect(shown).toMatchObject({ vmid: created.vmid, name: "survivor", state: "READY" });
    // Startup recovery (deadlines, the reconciler) found a live VM with our tag and a live row: nothing to undo.
    expect(processAlive(sandboxPid)).toBe(true);

    const destroyed = await cliJson<{ state: string }>(socket, ["sandbox", "destroy", "survivor"]);
    expect(destroyed.state).toBe("DESTROYED");
    expect(processAlive(sandboxPid)).toBe(false);
    expect(existsSync(sandboxDir)).toBe(false);
    expect(await cliJson<unknown[]>(socket, ["sandbox", "list"])).toEqual([]);
    await cliOk(socket, ["status"]);
  });
});
