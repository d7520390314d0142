/**
 * The CLI's event and profile commands against a real agentlabd over its Unix socket:
 * `events --follow` streams new events as they happen, `events --after ID` resumes with nothing
 * lost or repeated, JSON lists are arrays, `profile show` prints the profile's own document, and
 * usage errors exit 2.
 */
import { spawn } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AGENTLAB_CLI_BIN, cliJson, cliOk, runCli } from "../e2e/support/agentlab-cli.js";
import { type AgentlabdProcess, startAgentlabd } from "../e2e/support/agentlabd-process.js";
import {
  createDeploymentDir,
  type DeploymentDir,
  freeLoopbackPort,
  LOCAL_SMOKE_PROFILE,
  writeDeploymentConfig,
  writeProfile,
} from "../e2e/support/deployment-dir.js";

interface EventJson {
  id: number;
  kind: string;
  msg: string;
  sandbox_vmid: number;
}

describe("agentlab events and profile commands over the real socket", () => {
  let deployment: DeploymentDir;
  let daemon: AgentlabdProcess | undefined;

  beforeAll(async () => {
    deployment = createDeploymentDir("cli-events");
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

  it("follows events live and resumes after an id without loss or duplicates", async () => {
    const socket = deployment.socketPath;
    const follower = spawn(
      process.execPath,
      [AGENTLAB_CLI_BIN, "--socket", socket, "events", "--follow", "--output", "json"],
      {
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let streamed = "";
    follower.stdout.setEncoding("utf8").on("data", (chunk: string) => (streamed += chunk));
    try {
      const created = await cliJson<{ vmid: number; name: string }>(socket, [
        "sandbox",
        "new",
        "--profile",
        "local-smoke",
        "--name",
        "follow-me",
      ]);
      await cliOk(socket, ["sandbox", "destroy", "follow-me"]);
      // Everything the follower printed is one JSON event per line; wait until the destroy shows up.
      for (let i = 0; i < 100 && !streamed.includes("-> DESTROYED"); i++) await new Promise((r) => setTimeout(r, 100));
      const live = streamed
        .trim()
        .split("\n")
        .map((line) => JSON.parse(line) as EventJson)
        .filter((e) => e.sandbox_vmid === created.vmid && e.kind === "sandbox.state");
      expect(live.map((e) => e.msg.split(":")[0])).toEqual([
        "REQUESTED -> PROVISIONING",
        "PROVISIONING -> BOOTING",
        "BOOTING -> READY",
        "READY -> DESTROYED",
      ]);

      const all = await cliJson<EventJson[]>(socket, ["events", "--tail", "1000"]);
      expect(Array.isArray(all)).toBe(true);
      const middle = all[Math.floor(all.length / 2)];
      const resumed = await cliJson<EventJson[]>(socket, ["events", "--after", String(middle?.id)]);
      expect(resumed.map((e) => e.id)).toEqual(all.filter((e) => e.id > (middle?.id ?? 0)).map((e) => e.id));
    } finally {
      follower.kill("SIGINT");
    }
  });

  it("shows a profile's own document and lists profiles as a JSON array", async () => {
    const socket = deployment.socketPath;
    const shown = await cliOk(socket, ["profile", "show", "local-smoke"]);
    expect(shown).toContain("name: local-smoke");
    const list = await cliJson<Array<{ name: string; status: string }>>(socket, ["profile", "list"]);
    expect(list).toEqual([expect.objectContaining({ name: "local-smoke", status: "OK" })]);
    const missing = await runCli(socket, ["profile", "show", "nope"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("nope");
  });

  it("exits 2 for usage errors and 1 for failed requests", async () => {
    const socket = deployment.socketPath;
    expect((await runCli(socket, ["sandbox", "new"])).code).toBe(2);
    expect((await runCli(socket, ["sandbox", "list", "--output", "xml"])).code).toBe(2);
    expect((await runCli(socket, ["sandbox", "show", "no-such-sandbox"])).code).toBe(1);
    const unreachable = await runCli(`${deployment.runDir}/missing.sock`, ["status"]);
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toContain("Is agentlabd running?");
  });
});
