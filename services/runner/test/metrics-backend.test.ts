import { createMetricsRegistry } from "@agentlab/core/metrics/metrics-registry";
import type { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import type { Backend, CallContext, VmInfo } from "../src/backend.js";
import { BackendError } from "../src/backend-errors.js";
import { backendKindOf, withBackendMetrics } from "../src/metrics/backend-metrics.js";

const ctx: CallContext = { requestId: "req-1", deadline: Date.now() + 60_000 };
const vm: VmInfo = { vmid: 9001, name: "sb", state: "running", owned: true, tags: ["agentlab-test"] };

function notImplemented(): Promise<never> {
  return Promise.reject(new Error("not used by this test"));
}

/** Answers status for 9001, says not_found for anything else, and throws an untyped error on start. */
function fakeBackend(): Backend & { closed: boolean } {
  const fake = {
    closed: false,
    info: notImplemented,
    provision: notImplemented,
    start: () => Promise.reject(new TypeError("a bug, not a BackendError")),
    stop: notImplemented,
    destroy: notImplemented,
    status: async (_ctx: CallContext, vmid: number) => {
      if (vmid === vm.vmid) return vm;
      throw new BackendError("not_found", `VM ${vmid} does not exist`, { vmid });
    },
    waitGuestIp: notImplemented,
    listVms: async () => [vm],
    snapshotCreate: notImplemented,
    snapshotRollback: notImplemented,
    snapshotDelete: notImplemented,
    volumeCreate: notImplemented,
    volumeAttach: notImplemented,
    volumeDetach: notImplemented,
    volumeDelete: notImplemented,
    validateTemplate: notImplemented,
    close: async () => {
      fake.closed = true;
    },
  };
  return fake;
}

interface Sample {
  labels: Record<string, string | number>;
  value: number;
  metricName?: string;
}

async function samples(registry: Registry, name: string): Promise<Sample[]> {
  const metric = registry.getSingleMetric(name);
  if (!metric) throw new Error(`${name} is not registered`);
  return (await metric.get()).values as Sample[];
}

/** Counters' samples carry no metricName (it is the family's); histograms' name _bucket, _sum, _count. */
function find(all: Sample[], metricName: string, labels: Record<string, string>): Sample | undefined {
  return all.find(
    (s) =>
      (s.metricName === undefined || s.metricName === metricName) &&
      Object.entries(labels).every(([k, v]) => String(s.labels[k]) === v),
  );
}

describe("withBackendMetrics", () => {
  it("times a successful call and passes its result through", async () => {
    const registry = createMetricsRegistry("runner", { defaultMetrics: false });
    const backend = withBackendMetrics(fakeBackend(), registry, "proxmox-api");

    await expect(backend.status(ctx, 9001)).resolves.toEqual(vm);
    await expect(backend.listVms(ctx)).resolves.toEqual([vm]);

    const durations = await samples(registry, "agentlab_runner_backend_call_duration_seconds");
    const count = "agentlab_runner_backend_call_duration_seconds_count";
    expect(find(durations, count, { backend: "proxmox-api", operation: "status", outcome: "ok" })?.value).toBe(1);
    expect(find(durations, count, { backend: "proxmox-api", operation: "listVms", outcome: "ok" })?.value).toBe(1);
    expect(find(durations, count, { operation: "status", outcome: "error" })).toBeUndefined();
    expect(await samples(registry, "agentlab_runner_backend_call_errors_total")).toEqual([]);
  });

  it("counts a typed failure by its BackendError kind and rethrows the same error", async () => {
    const registry = createMetricsRegistry("runner", { defaultMetrics: false });
    const backend = withBackendMetrics(fakeBackend(), registry, "proxmox-api");

    const failure = await backend.status(ctx, 404).catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(BackendError);
    expect((failure as BackendError).kind).toBe("not_found");
    await expect(backend.start(ctx, 9001)).rejects.toThrow(TypeError);

    const errors = await samples(registry, "agentlab_runner_backend_call_errors_total");
    const name = "agentlab_runner_backend_call_errors_total";
    expect(find(errors, name, { backend: "proxmox-api", operation: "status", kind: "not_found" })?.value).toBe(1);
    expect(find(errors, name, { backend: "proxmox-api", operation: "start", kind: "internal" })?.value).toBe(1);
    const durations = await samples(registry, "agentlab_runner_backend_call_duration_seconds");
    const count = "agentlab_runner_backend_call_duration_seconds_count";
    expect(find(durations, count, { operation: "status", outcome: "error" })?.value).toBe(1);

    const text = await registry.metrics();
    expect(text).toContain(
      'agentlab_runner_backend_call_errors_total{backend="proxmox-api",operation="status",kind="not_found",service="runner"} 1',
    );
  });

  it("shares its families between backends decorated on one registry, and closes the inner backend", async () => {
    const registry = createMetricsRegistry("agentlabd", { defaultMetrics: false });
    const inner = fakeBackend();
    const first = withBackendMetrics(inner, registry, "local");
    const second = withBackendMetrics(fakeBackend(), registry, "local");
    await first.status(ctx, 9001);
    await second.status(ctx, 9001);

    const durations = await samples(registry, "agentlab_runner_backend_call_duration_seconds");
    const count = "agentlab_runner_backend_call_duration_seconds_count";
    expect(find(durations, count, { backend: "local", operation: "status", outcome: "ok" })?.value).toBe(2);
    await first.close();
    expect(inner.closed).toBe(true);
  });

  it("names the backend kind the config selects", () => {
    expect(backendKindOf({ sandbox_backend: "local", proxmox_backend: "api" })).toBe("local");
    expect(backendKindOf({ sandbox_backend: "proxmox", proxmox_backend: "api" })).toBe("proxmox-api");
    expect(backendKindOf({ sandbox_backend: "proxmox", proxmox_backend: "shell" })).toBe("proxmox-shell");
  });
});
