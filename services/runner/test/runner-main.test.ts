import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { RunnerService } from "@agentlab/api";
import { createPeerTransport } from "@agentlab/core";
import { createClient } from "@connectrpc/connect";
import { afterEach, describe, expect, it } from "vitest";

const BINARY = fileURLToPath(new URL("../dist/agentlab-runner.mjs", import.meta.url));

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

const children = new Set<ChildProcess>();
const dirs: string[] = [];

afterEach(() => {
  for (const child of children) child.kill("SIGKILL");
  children.clear();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A deployment in a temp dir: config (mode 0600), run_dir and data_dir. */
function tempDeployment(extra = ""): { dir: string; config: string; socket: string } {
  const dir = mkdtempSync(path.join(os.tmpdir(), "agentlab-runner-main-"));
  dirs.push(dir);
  mkdirSync(path.join(dir, "run"));
  const config = path.join(dir, "config.yaml");
  writeFileSync(
    config,
    [
      "sandbox_backend: local",
      `data_dir: ${dir}/data`,
      `run_dir: ${dir}/run`,
      "deployment_id: main-test",
      "bootstrap_listen: 127.0.0.1:18844",
      "artifact_listen: 127.0.0.1:18846",
      extra,
    ].join("\n"),
    { mode: 0o600 },
  );
  return { dir, config, socket: path.join(dir, "run", "runner.sock") };
}

function start(args: string[]): { child: ChildProcess; exited: Promise<Run>; ready: Promise<void> } {
  const child = spawn(process.execPath, [BINARY, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env },
  });
  children.add(child);
  const run: Run = { code: null, signal: null, stdout: "", stderr: "" };
  let onOutput = () => {};
  child.stdout?.on("data", (chunk: Buffer) => {
    run.stdout += chunk.toString();
    onOutput();
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    run.stderr += chunk.toString();
  });
  const exited = new Promise<Run>((resolve) => {
    child.once("exit", (code, signal) => {
      children.delete(child);
      run.code = code;
      run.signal = signal;
      resolve(run);
    });
  });
  // Ready when the runner logs that it serves; fails if it exits first.
  const ready = new Promise<void>((resolve, reject) => {
    onOutput = () => {
      if (run.stdout.includes('"msg":"runner serving"')) resolve();
    };
    void exited.then((r) => reject(new Error(`runner exited (${r.code}) before serving:\n${r.stderr}`)));
  });
  // Runs that are never meant to serve (--config-check, --version) do not await it.
  ready.catch(() => {});
  return { child, exited, ready };
}

describe("agentlab-runner binary", () => {
  it("serves GetInfo over its Unix socket with gRPC, and SIGTERM exits 0 and removes the socket", async () => {
    const { config, socket } = tempDeployment();
    const runner = start(["--config", config, "--db", "/nonexistent/ignored.db"]);
    await runner.ready;
    expect(existsSync(socket)).toBe(true);

    const client = createClient(RunnerService, createPeerTransport(`unix://${socket}`, { protocol: "grpc" }));
    const info = await client.getInfo({});
    expect(info.backendKind).toBe("local");
    expect(info.runnerVersion).toMatch(/^AgentLab version=\S+ commit=[0-9a-f]{7,} date=/);

    runner.child.kill("SIGTERM");
    const run = await runner.exited;
    expect(run.code).toBe(0);
    expect(existsSync(socket)).toBe(false);
    // JSON log lines from core's logger.
    for (const line of run.stdout.trim().split("\n")) expect(JSON.parse(line)).toHaveProperty("service", "runner");
  });

  it("--socket overrides runner_socket", async () => {
    const { dir, config } = tempDeployment();
    const socket = path.join(dir, "other.sock");
    const runner = start(["--config", config, "--socket", socket]);
    await runner.ready;
    const client = createClient(RunnerService, createPeerTransport(`unix://${socket}`, { protocol: "grpc" }));
    expect((await client.getInfo({})).backendKind).toBe("local");
    runner.child.kill("SIGINT");
    expect((await runner.exited).code).toBe(0);
  });

  it("--config-check on a good config exits 0 and binds nothing", async () => {
    const { config, socket } = tempDeployment();
    const run = await start(["--config", config, "--config-check"]).exited;
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("configuration ok");
    expect(existsSync(socket)).toBe(false);
  });

  it("--config-check on a bad config exits 1 and names the file, line and key", async () => {
    const { config, socket } = tempDeployment("sandbox_backend_typo: 1\nproxmox_backend: telnet");
    const run = await start(["--config", config, "--config-check"]).exited;
    expect(run.code).toBe(1);
    // Line 8 is proxmox_backend (line 7: the unknown key, a warning).
    expect(run.stderr).toContain(`error: ${config}:8: proxmox_backend:`);
    expect(run.stderr).toContain(`warning: ${config}:7: sandbox_backend_typo:`);
    expect(existsSync(socket)).toBe(false);
  });

  it("refuses to start without a deployment_id", async () => {
    const { config } = tempDeployment();
    writeFileSync(config, "sandbox_backend: local\nbootstrap_listen: 127.0.0.1:18844\n", { mode: 0o600 });
    const run = await start(["--config", config, "--config-check"]).exited;
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("deployment_id");
  });

  it("prints the version line", async () => {
    const run = await start(["--version"]).exited;
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^AgentLab version=/);
  });
});
