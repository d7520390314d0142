import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RunnerService } from "@agentlab/api";
import { loadConfig } from "@agentlab/core/config/load-config";
import { createMetricsRegistry } from "@agentlab/core/metrics/metrics-registry";
import { createPeerTransport } from "@agentlab/core/peer-transport";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import type { Backend, VmInfo } from "../src/backend.js";
import { BackendError } from "../src/backend-errors.js";
import { type RunnerServer, startRunner } from "../src/runner-server.js";

const vm: VmInfo = { vmid: 9001, name: "sb", state: "running", owned: true, tags: ["agentlab-t"] };

/** Only status is used: 9001 exists, any other VMID is not_found (as the hypervisor answered). */
function statusOnlyBackend(): Backend {
  const unused = () => Promise.reject(new Error("not used by this test"));
  return {
    info: unused,
    provision: unused,
    start: unused,
    stop: unused,
    destroy: unused,
    status: async (_ctx, vmid) => {
      if (vmid === vm.vmid) return vm;
      throw new BackendError("not_found", `VM ${vmid} does not exist`, { vmid });
    },
    waitGuestIp: unused,
    listVms: unused,
    snapshotCreate: unused,
    snapshotRollback: unused,
    snapshotDelete: unused,
    volumeCreate: unused,
    volumeAttach: unused,
    volumeDetach: unused,
    volumeDelete: unused,
    validateTemplate: unused,
    close: async () => {},
  };
}

describe("startRunner with a shared metrics registry", () => {
  let dir: string | undefined;
  let server: RunnerServer | undefined;
  afterEach(async () => {
    await server?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
    server = undefined;
    dir = undefined;
  });

  it("times RunnerService calls at the backend, labelled with the configured backend kind", async () => {
    dir = await mkdtemp(join(tmpdir(), "al-runner-metrics-"));
    const { config } = loadConfig({
      overrides: { sandbox_backend: "proxmox", proxmox_backend: "shell", deployment_id: "t" },
      env: {},
      fs: { readFile: () => "", statMode: () => undefined },
    });
    const registry = createMetricsRegistry("agentlabd", { defaultMetrics: false });
    server = await startRunner({
      config,
      logger: pino({ level: "silent" }),
      socketPath: join(dir, "runner.sock"),
      backend: statusOnlyBackend(),
      metrics: registry,
    });
    const client = createClient(
      RunnerService,
      createPeerTransport(`unix://${server.socketPath}`, { protocol: "grpc" }),
    );

    const found = await client.getVmStatus({ vmid: 9001 });
    expect(found.vm?.vmid).toBe(9001);
    const missing = await client.getVmStatus({ vmid: 9404 }).catch((err: unknown) => ConnectError.from(err));
    expect(missing).toBeInstanceOf(ConnectError);
    expect((missing as ConnectError).code).toBe(Code.NotFound);

    const text = await registry.metrics();
    expect(text).toContain(
      'agentlab_runner_backend_call_errors_total{backend="proxmox-shell",operation="status",kind="not_found",service="agentlabd"} 1',
    );
    expect(text).toMatch(
      /agentlab_runner_backend_call_duration_seconds_count\{[^}]*backend="proxmox-shell"[^}]*operation="status"[^}]*outcome="ok"[^}]*\} 1/,
    );
  });
});
