/**
 * The bundled agentlabd serves its runner from a worker thread: the runner's socket answers, one
 * /metrics carries the runner's families next to control's with process metrics once, and a runner
 * that cannot start stops the whole daemon with the runner's own reason.
 */
import { spawnSync } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { runCli } from "./support/agentlab-cli.js";
import { AGENTLABD_BIN, type AgentlabdProcess, startAgentlabd } from "./support/agentlabd-process.js";
import {
  createDeploymentDir,
  type DeploymentDir,
  freeLoopbackPort,
  writeDeploymentConfig,
} from "./support/deployment-dir.js";

describe("agentlabd's runner thread", () => {
  let deployment: DeploymentDir | undefined;
  let daemon: AgentlabdProcess | undefined;

  afterEach(async () => {
    await daemon?.stop();
    daemon = undefined;
    deployment?.remove();
  });

  it("serves the runner and one /metrics with the runner's families and the process metrics once", async () => {
    deployment = createDeploymentDir("runner-thread");
    const metricsPort = await freeLoopbackPort();
    writeDeploymentConfig(deployment, {
      sandbox_backend: "local",
      bootstrap_listen: `127.0.0.1:${await freeLoopbackPort()}`,
      artifact_listen: `127.0.0.1:${await freeLoopbackPort()}`,
      agent_subnet: "127.0.0.0/8",
      metrics_listen: `127.0.0.1:${metricsPort}`,
      log_level: "info",
    });
    daemon = await startAgentlabd({ configPath: deployment.configPath, runDir: deployment.runDir });
    // `status` asks the runner for its info through its socket: a backend call the runner measures.
    const status = await runCli(deployment.socketPath, ["status", "--output", "json"]);
    expect(status.code, status.stderr).toBe(0);

    const scrape = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    const typeLines = (family: string) => scrape.split("\n").filter((l) => l.startsWith(`# TYPE ${family} `)).length;
    expect(typeLines("agentlab_runner_backend_call_duration_seconds")).toBe(1);
    expect(scrape).toMatch(/agentlab_runner_backend_call_duration_seconds_count\{[^}]*operation="info"[^}]*\} [1-9]/);
    expect(typeLines("agentlab_control_sandbox_transitions_total")).toBe(1);
    expect(typeLines("process_cpu_user_seconds_total")).toBe(1);
    expect(await daemon.stop()).toBe(0);
    // One log on stdout, whole JSON lines, the runner thread's among them.
    const lines = daemon
      .stdout()
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines).toContainEqual(expect.objectContaining({ service: "runner", msg: "runner serving" }));
    expect(lines).toContainEqual(expect.objectContaining({ service: "control" }));
    daemon = undefined;
  });

  it("exits 1 with the runner's reason when the runner cannot start", async () => {
    deployment = createDeploymentDir("runner-thread-fails");
    const notASocket = join(deployment.runDir, "runner.sock");
    writeFileSync(notASocket, "an operator's file\n");
    writeDeploymentConfig(deployment, {
      sandbox_backend: "local",
      bootstrap_listen: `127.0.0.1:${await freeLoopbackPort()}`,
      artifact_listen: `127.0.0.1:${await freeLoopbackPort()}`,
      agent_subnet: "127.0.0.0/8",
    });
    const run = spawnSync(process.execPath, [AGENTLABD_BIN, "--config", deployment.configPath], {
      encoding: "utf8",
      timeout: 60_000,
    });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain(`${notASocket} exists and is not a Unix socket; refusing to replace it`);
    // Nothing was left listening: control and artifacts never started.
    expect(existsSync(join(deployment.runDir, "agentlabd.sock"))).toBe(false);
  });
});
