import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import type { Backend, CallContext, ProvisionSpec } from "../../src/backend.js";
import { createLocalBackend } from "../../src/backends/local/local-backend.js";
import type { IsolationMode } from "../../src/backends/local/local-backend-options.js";

export const OWNER_TAG = "agentlab-test-deployment";

let requestCounter = 0;
export function callContext(): CallContext {
  requestCounter += 1;
  return { requestId: `test-${process.pid}-${requestCounter}`, deadline: Date.now() + 60_000 };
}

/** A sandbox dir and the backends made on it; cleanup destroys every sandbox and removes every dir. */
export class LocalTestHarness {
  readonly sandboxDir = mkdtempSync(path.join(os.tmpdir(), "agentlab-local-test-"));
  /** Under /var/tmp, which the sandbox sees read-only: files here exercise the host-side checks. */
  readonly hostDir = mkdtempSync("/var/tmp/agentlab-local-host-");
  private readonly backends: Backend[] = [];
  private readonly cleanups: Array<() => Promise<void> | void> = [];

  constructor(readonly isolation: IsolationMode = "auto") {
    chmodSync(this.hostDir, 0o755);
  }

  backend(extra: { hiddenPaths?: string[]; isolation?: IsolationMode; bwrapPath?: string } = {}): Backend {
    const backend = createLocalBackend({
      sandboxDir: this.sandboxDir,
      ownerTag: OWNER_TAG,
      isolation: extra.isolation ?? this.isolation,
      hiddenPaths: extra.hiddenPaths,
      bwrapPath: extra.bwrapPath,
      stopGraceMs: 2000,
    });
    this.backends.push(backend);
    return backend;
  }

  spec(vmid: number, overrides: Partial<ProvisionSpec> = {}): ProvisionSpec {
    return {
      vmid,
      name: `sandbox-${vmid}`,
      network: { localMode: "none" },
      bootstrapJson: JSON.stringify({ job: "test", vmid }),
      ownerTag: OWNER_TAG,
      ...overrides,
    };
  }

  workFile(vmid: number, name: string): string {
    return path.join(this.sandboxDir, String(vmid), "work", name);
  }

  /** Serves `pong` to any line on a Unix socket the sandbox uid may connect to. */
  async unixPongServer(): Promise<string> {
    const socketPath = path.join(this.hostDir, "control.sock");
    const server = net.createServer((socket) => {
      socket.on("data", () => socket.end("pong"));
    });
    await new Promise<void>((resolve) => server.listen(socketPath, resolve));
    chmodSync(socketPath, 0o666);
    this.cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    return socketPath;
  }

  /** A TCP server on the host's loopback that the sandbox must not reach in `none` mode. */
  async loopbackTcpServer(): Promise<number> {
    const server = net.createServer((socket) => socket.end("host"));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    this.cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    return (server.address() as net.AddressInfo).port;
  }

  /** Hidden-path stand-in for /etc/agentlab: a directory with a marker file. */
  hiddenDirWithMarker(): string {
    const dir = path.join(this.hostDir, "hidden-etc-agentlab");
    mkdirSync(dir, { mode: 0o755 });
    writeFileSync(path.join(dir, "marker"), "secret-marker\n", { mode: 0o644 });
    return dir;
  }

  /** Polls until the sandbox's init has exited (bounded by the test timeout, never asserted on time). */
  async waitStopped(backend: Backend, vmid: number): Promise<void> {
    while ((await backend.status(callContext(), vmid)).state === "running") {
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  readResults(vmid: number): Record<string, string> {
    const file = this.workFile(vmid, "result.txt");
    if (!existsSync(file)) return {};
    const entries = readFileSync(file, "utf8")
      .split("\n")
      .filter((line) => line.includes("="))
      .map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)] as const);
    return Object.fromEntries(entries);
  }

  async cleanup(): Promise<void> {
    const backend = this.backends[0] ?? this.backend();
    for (const vm of await backend.listVms(callContext(), { includeForeign: true })) {
      await backend.destroy(callContext(), vm.vmid, { adopt: { vmid: vm.vmid, name: vm.name } });
    }
    for (const b of this.backends) await b.close();
    for (const fn of this.cleanups) await fn();
    rmSync(this.sandboxDir, { recursive: true, force: true });
    rmSync(this.hostDir, { recursive: true, force: true });
  }
}
