import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { createLogger, loadConfig } from "@agentlab/core";
import { afterAll, describe, expect, it } from "vitest";
import type { Backend, CallContext } from "../src/backend.js";
import { createBackend } from "../src/create-backend.js";
import {
  SANDBOX_ARTIFACTS_SOCKET,
  SANDBOX_BOOTSTRAP_FILE,
  SANDBOX_CONTROL_SOCKET,
} from "../src/local-sandbox-endpoints.js";

const logger = createLogger({ service: "runner", level: "silent" });
const ctx = (): CallContext => ({ requestId: `cb-${Math.random()}`, deadline: Date.now() + 60_000 });

function configFile(dir: string, lines: string[]): string {
  const file = path.join(dir, "config.yaml");
  writeFileSync(file, `${lines.join("\n")}\n`, { mode: 0o600 });
  return file;
}

describe("createBackend", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "agentlab-create-backend-"));
  chmodSync(dir, 0o755); // the sandbox uid must be able to reach its sandbox dir beneath it
  // Under /var/tmp with open modes: the sandbox's unprivileged uid must reach the sockets.
  const hostDir = mkdtempSync("/var/tmp/agentlab-create-backend-");
  chmodSync(hostDir, 0o755);
  const servers: net.Server[] = [];
  let backend: Backend | undefined;

  afterAll(async () => {
    if (backend) {
      for (const vm of await backend.listVms(ctx())) await backend.destroy(ctx(), vm.vmid);
      await backend.close();
    }
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    rmSync(dir, { recursive: true, force: true });
    rmSync(hostDir, { recursive: true, force: true });
  });

  it("local: runs the guest bundle with the host's Node, the bootstrap file and both guest sockets", async () => {
    for (const name of ["guest.sock", "artifacts-guest.sock"]) {
      const server = net.createServer((socket) => socket.end());
      await new Promise<void>((resolve) => server.listen(path.join(hostDir, name), resolve));
      chmodSync(path.join(hostDir, name), 0o666);
      servers.push(server);
    }
    // A stand-in guest: reports what it sees into /work, which the host reads back.
    const guest = path.join(hostDir, "fake-guest.mjs");
    writeFileSync(
      guest,
      [
        'import { existsSync, writeFileSync } from "node:fs";',
        "writeFileSync('/work/guest-report.json', JSON.stringify({",
        "  bootstrapFile: process.env.AGENTLAB_BOOTSTRAP_FILE,",
        "  bootstrap: existsSync(process.env.AGENTLAB_BOOTSTRAP_FILE ?? ''),",
        `  control: existsSync(${JSON.stringify(SANDBOX_CONTROL_SOCKET)}),`,
        `  artifacts: existsSync(${JSON.stringify(SANDBOX_ARTIFACTS_SOCKET)}),`,
        "}));",
      ].join("\n"),
      { mode: 0o644 },
    );
    const file = configFile(dir, [
      "sandbox_backend: local",
      `data_dir: ${dir}/data`,
      `run_dir: ${hostDir}`,
      "deployment_id: create-backend",
      "bootstrap_listen: 127.0.0.1:18844",
    ]);
    const { config } = loadConfig({ path: file });
    backend = createBackend(config, { logger, configPath: file, guestBundlePath: guest });
    await backend.provision(ctx(), {
      vmid: 4301,
      name: "guest-cmd",
      network: { localMode: "none" },
      bootstrapJson: "{}",
      ownerTag: "agentlab-create-backend",
    });
    await backend.start(ctx(), 4301);
    const report = path.join(config.local_sandbox_dir, "4301", "work", "guest-report.json");
    // Bounded by the test timeout; the guest writes once and the sandbox then sleeps.
    while (!existsSync(report) || readFileSync(report, "utf8") === "") await new Promise((r) => setTimeout(r, 25));
    expect(JSON.parse(readFileSync(report, "utf8"))).toEqual({
      bootstrapFile: SANDBOX_BOOTSTRAP_FILE,
      bootstrap: true,
      control: true,
      artifacts: true,
    });
    // The sandbox outlives its guest: `exec sleep infinity` keeps it up for control to collect.
    expect((await backend.status(ctx(), 4301)).state).toBe("running");
  });

  it("proxmox: chooses the api or shell backend from proxmox_backend", async () => {
    for (const [kind, extra] of [
      ["api", ["proxmox_api_token: root@pam!agentlab=00000000-0000-0000-0000-000000000000"]],
      ["shell", []],
    ] as const) {
      const file = configFile(dir, [
        "sandbox_backend: proxmox",
        `proxmox_backend: ${kind}`,
        "deployment_id: pve",
        ...extra,
      ]);
      const built = createBackend(loadConfig({ path: file }).config, { logger, configPath: file });
      expect(typeof built.provision).toBe("function");
      await built.close();
    }
  });

  it("refuses to build a backend without deployment_id", () => {
    const file = configFile(dir, ["sandbox_backend: local", "bootstrap_listen: 127.0.0.1:18844"]);
    expect(() => createBackend(loadConfig({ path: file }).config, { logger })).toThrow(/deployment_id/);
  });
});
