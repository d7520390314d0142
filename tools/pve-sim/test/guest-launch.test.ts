import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createPveSim, type PveSim } from "../src/index.js";
import { until } from "./helpers/pve-request.js";

/** A booted VM runs a real "guest" process fed from its cloud-init snippet (brief item 8). */
const GUEST_SCRIPT = `
const fs = require("node:fs");
const payload = fs.readFileSync(process.env.AGENTLAB_BOOTSTRAP_FILE, "utf8");
fs.writeFileSync(process.env.MARKER, JSON.stringify({ pid: process.pid, vmid: process.env.AGENTLAB_VMID, payload }));
setInterval(() => {}, 1000);
`;

let sim: PveSim | undefined;
let dir: string | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("guest launch", () => {
  it("starts the guest with the bootstrap payload from the snippet directory and kills it on stop", async () => {
    dir = mkdtempSync(join(tmpdir(), "pve-sim-guest-test-"));
    const snippetsDir = join(dir, "snippets");
    const marker = join(dir, "marker.json");
    sim = await createPveSim({
      timeScale: 0.001,
      snippetsDir,
      guestCommand: [process.execPath, "-e", GUEST_SCRIPT],
      guestEnv: { MARKER: marker },
    });
    expect((await sim.runCli(["qm", "clone", "9000", "100"])).exitCode).toBe(0);
    expect((await sim.runCli(["qm", "set", "100", "--cicustom", "user=local:snippets/sbx-100.yaml"])).exitCode).toBe(0);
    const missing = await sim.runCli(["qm", "start", "100"]);
    expect(missing).toMatchObject({ exitCode: 255, stderr: "can't find file 'local:snippets/sbx-100.yaml'\n" });
    // The shell backend writes snippets straight into the host directory, as on a real node.
    const bootstrap = JSON.stringify({ token: "one-time", controller: "http://127.0.0.1:1" });
    const userData = [
      "#cloud-config",
      "write_files:",
      "  - path: /etc/agentlab/bootstrap.json",
      "    permissions: '0600'",
      "    encoding: b64",
      `    content: ${Buffer.from(bootstrap).toString("base64")}`,
      "",
    ].join("\n");
    mkdirSync(snippetsDir, { recursive: true });
    writeFileSync(join(snippetsDir, "sbx-100.yaml"), userData);
    const start = await sim.runCli(["qm", "start", "100"]);
    expect(start.exitCode).toBe(0);
    expect(start.stdout).toContain("generating cloud-init ISO");
    await until(() => existsSync(marker) && readFileSync(marker, "utf8").length > 0, "guest wrote its marker");
    const seen = JSON.parse(readFileSync(marker, "utf8")) as { pid: number; vmid: string; payload: string };
    expect(seen.vmid).toBe("100");
    expect(JSON.parse(seen.payload)).toEqual({ token: "one-time", controller: "http://127.0.0.1:1" });
    expect(sim.context.guests.running()).toEqual([100]);
    expect(alive(seen.pid)).toBe(true);
    expect((await sim.runCli(["qm", "stop", "100"])).exitCode).toBe(0);
    expect(sim.context.guests.running()).toEqual([]);
    expect(alive(seen.pid)).toBe(false);
  });

  it("kills running guests on close", async () => {
    dir = mkdtempSync(join(tmpdir(), "pve-sim-guest-test-"));
    const marker = join(dir, "marker.json");
    sim = await createPveSim({
      timeScale: 0.001,
      guestCommand: () => [process.execPath, "-e", GUEST_SCRIPT],
      guestEnv: { MARKER: marker },
    });
    sim.writeSnippet(
      "local:snippets/g.yaml",
      "#cloud-config\nwrite_files:\n  - path: /etc/agentlab/bootstrap.json\n    content: '{\"a\":1}'\n",
    );
    await sim.runCli(["qm", "clone", "9000", "100"]);
    await sim.runCli(["qm", "set", "100", "--cicustom", "user=local:snippets/g.yaml"]);
    expect((await sim.runCli(["qm", "start", "100"])).exitCode).toBe(0);
    await until(() => existsSync(marker) && readFileSync(marker, "utf8").length > 0, "guest wrote its marker");
    const { pid, payload } = JSON.parse(readFileSync(marker, "utf8")) as { pid: number; payload: string };
    expect(payload).toBe('{"a":1}');
    await sim.close();
    sim = undefined;
    expect(alive(pid)).toBe(false);
  });
});
