import { type ChildProcess, spawn } from "node:child_process";
import { promises as fsp } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Listener, listen } from "@agentlab/core/listener";
import { versionLine } from "@agentlab/core/version";
import { afterEach, describe, expect, it } from "vitest";
import { sha256Hex, uploadOverHttp } from "./support/harness.js";
import { TestRegistry } from "./support/test-registry.js";

const MAIN = new URL("../src/main.ts", import.meta.url).pathname;

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function run(args: string[]): ChildProcess {
  const child = spawn(process.execPath, ["--import", "tsx", MAIN, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  cleanups.push(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGKILL");
      await new Promise((resolve) => child.once("exit", resolve));
    }
  });
  return child;
}

function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once("exit", (code) => resolve(code)));
}

function readyLine(child: ChildProcess): Promise<{ guest: string; socket: string }> {
  return new Promise((resolve, reject) => {
    let buffered = "";
    let stderr = "";
    child.stderr?.on("data", (c: Buffer) => {
      stderr += c.toString();
    });
    child.stdout?.on("data", (c: Buffer) => {
      buffered += c.toString();
      for (const line of buffered.split("\n")) {
        if (line.includes('"ready":true')) resolve(JSON.parse(line) as { guest: string; socket: string });
      }
    });
    child.once("exit", (code) => reject(new Error(`agentlab-artifacts exited ${code} before ready: ${stderr}`)));
  });
}

describe("agentlab-artifacts", () => {
  it("prints the version line", async () => {
    const child = run(["--version"]);
    let out = "";
    child.stdout?.on("data", (c: Buffer) => {
      out += c.toString();
    });
    expect(await exited(child)).toBe(0);
    expect(out.trim()).toBe(versionLine());
  });

  it("serves uploads from its config, sweeps temp files at start and stops on SIGTERM", async () => {
    const dir = await fsp.mkdtemp(join(tmpdir(), "al-main-"));
    cleanups.push(() => fsp.rm(dir, { recursive: true, force: true }));
    const registry = new TestRegistry();
    registry.addToken("tok-main", "job_0000000000000033");
    const control: Listener = await listen({
      endpoint: { unix: { path: join(dir, "control.sock") } },
      connectRoutes: registry.routes,
    });
    cleanups.push(() => control.close());
    await fsp.mkdir(join(dir, "data", "artifacts", "job_0000000000000033"), { recursive: true });
    const leftover = join(dir, "data", "artifacts", "job_0000000000000033", ".upload-0000000000000001.tmp");
    await fsp.writeFile(leftover, "partial");
    const config = join(dir, "config.yaml");
    await fsp.writeFile(
      config,
      [
        `data_dir: ${join(dir, "data")}`,
        `run_dir: ${dir}`,
        `socket_path: ${join(dir, "control.sock")}`,
        `artifacts_socket: ${join(dir, "artifacts.sock")}`,
        "sandbox_backend: local",
        "bootstrap_listen: 127.0.0.1:0",
        "artifact_listen: 127.0.0.1:0",
        "agent_subnet: 127.0.0.0/8",
        "artifact_max_bytes: 1048576",
        "",
      ].join("\n"),
      { mode: 0o600 },
    );
    const child = run(["--config", config]);
    const ready = await readyLine(child);
    await expect(fsp.stat(leftover)).rejects.toThrow();
    const port = Number(ready.guest.split(":").at(-1));
    const body = Buffer.from("bundle bytes");
    const reply = await uploadOverHttp({
      port,
      token: "tok-main",
      body,
      headers: { "x-content-sha256": sha256Hex(body) },
    });
    expect(reply.status).toBe(201);
    expect(registry.rowsOf("job_0000000000000033")).toHaveLength(1);
    child.kill("SIGTERM");
    expect(await exited(child)).toBe(0);
    await expect(fsp.stat(join(dir, "artifacts.sock"))).rejects.toThrow();
  });

  it("refuses a config it cannot use, naming the problem", async () => {
    const dir = await fsp.mkdtemp(join(tmpdir(), "al-main-"));
    cleanups.push(() => fsp.rm(dir, { recursive: true, force: true }));
    const config = join(dir, "config.yaml");
    await fsp.writeFile(config, "artifact_max_bytes: -1\nsandbox_backend: local\n", { mode: 0o600 });
    const child = run(["--config", config]);
    let err = "";
    child.stderr?.on("data", (c: Buffer) => {
      err += c.toString();
    });
    expect(await exited(child)).toBe(1);
    expect(err).toContain("artifact_max_bytes");
  });
});
