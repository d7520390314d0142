import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { createPveSim, type PveSim, type PveSimOptions } from "@agentlab/pve-sim";
import type { Backend, CallContext, ProvisionSpec } from "../../src/backend.js";
import {
  createProxmoxApiBackend,
  type ProxmoxApiBackendOptions,
} from "../../src/backends/proxmox-api/proxmox-api-backend.js";
import type { ProxmoxLogger } from "../../src/backends/proxmox-common/runtime-deps.js";
import {
  createProxmoxShellBackend,
  type ProxmoxShellBackendOptions,
} from "../../src/backends/proxmox-shell/proxmox-shell-backend.js";

/** Test plumbing: a simulator with a real snippets directory, and either backend pointed at it. */
export type BackendKind = "api" | "shell";

export const OWNER_TAG = "agentlab-test";

export interface Harness {
  sim: PveSim;
  snippetsDir: string;
  logs: string[];
  make(kind: BackendKind, extra?: Partial<ProxmoxApiBackendOptions & ProxmoxShellBackendOptions>): Backend;
  close(): Promise<void>;
}

export async function startHarness(options: PveSimOptions = {}): Promise<Harness> {
  const snippetsDir = await mkdtemp(path.join(tmpdir(), "agentlab-snippets-"));
  const sim = await createPveSim({ timeScale: 0.01, snippetsDir, ...options });
  // Our own copy of the simulator's certificate for the fake CLI: the simulator's temp file has been
  // seen to vanish mid-run (reported to the pve-sim owner).
  const caFile = path.join(snippetsDir, "..", `${path.basename(snippetsDir)}-ca.pem`);
  await writeFile(caFile, sim.caPem);
  const logs: string[] = [];
  const log: ProxmoxLogger = {
    warn: (message, fields) => logs.push(`WARN ${message} ${JSON.stringify(fields ?? {})}`),
    info: (message, fields) => logs.push(`INFO ${message} ${JSON.stringify(fields ?? {})}`),
  };
  const backends: Backend[] = [];
  const fast = {
    ownerTag: OWNER_TAG,
    snippetsDir,
    snippetStorage: "local",
    taskPoll: { initialMs: 5, maxMs: 40 },
    lockRetry: { initialMs: 10, maxMs: 80 },
    agentPoll: { initialMs: 10, maxMs: 40 },
    cloneRecheckGraceMs: 300,
    cleanupGraceMs: 10_000,
    volumeOwnerVmid: 999,
    deps: { log },
  };
  return {
    sim,
    snippetsDir,
    logs,
    make(kind, extra = {}) {
      const backend =
        kind === "api"
          ? createProxmoxApiBackend({
              ...fast,
              apiUrl: sim.baseUrl,
              apiToken: sim.token,
              tls: { fingerprint: sim.fingerprint },
              requestTimeoutMs: 5_000,
              ...extra,
            })
          : createProxmoxShellBackend({
              ...fast,
              env: { ...process.env, ...sim.cliEnv, PVESIM_CA_FILE: caFile },
              commandTimeoutMs: 20_000,
              ...extra,
            });
      backends.push(backend);
      return backend;
    },
    async close() {
      await Promise.all(backends.map((b) => b.close()));
      await sim.close();
      await rm(snippetsDir, { recursive: true, force: true });
      await rm(caFile, { force: true });
    },
  };
}

let requestCounter = 0;

export function ctx(ms = 20_000, requestId = `req-${++requestCounter}`): CallContext {
  return { requestId, deadline: Date.now() + ms };
}

export function spec(vmid: number, overrides: Partial<ProvisionSpec> = {}): ProvisionSpec {
  return {
    vmid,
    name: `sandbox-${vmid}`,
    templateVmid: 9000,
    cores: 2,
    memoryMb: 2048,
    network: { bridge: "vmbr1" },
    bootstrapJson: JSON.stringify({ token: `tok-${vmid}`, controller: "http://10.77.0.1:8844", vmid }),
    ownerTag: OWNER_TAG,
    description: "job 42",
    ...overrides,
  };
}

/** The first error a promise rejects with (fails the test if it resolves). */
export async function failure(
  promise: Promise<unknown>,
): Promise<{ kind: string; message: string; details: Record<string, unknown> }> {
  try {
    await promise;
  } catch (err) {
    return err as { kind: string; message: string; details: Record<string, unknown> };
  }
  throw new Error("expected the call to fail, it succeeded");
}
