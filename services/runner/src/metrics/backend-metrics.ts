/**
 * A Backend decorator that times every hypervisor call and counts failures by BackendError kind.
 * It wraps the Backend rather than the RunnerService routes so the figures are the hypervisor's
 * (Proxmox API, qm/pvesh, namespaces), not the gRPC hop, and so every caller of the backend is seen.
 */
import { Counter, Histogram, type Registry } from "prom-client";
import type { Backend, BackendInfo, CallContext } from "../backend.js";
import { type BackendErrorKind, isBackendError } from "../backend-errors.js";

/** `proxmox-api`, `proxmox-shell` or `local`: the label that tells backends apart on one dashboard. */
export type BackendKind = BackendInfo["kind"];

/** Seconds; API reads take milliseconds, a full clone or waitGuestIp can take minutes. */
const CALL_DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];

/** Every method that reaches the hypervisor; `close` is the runner's own shutdown and is not timed. */
export type BackendOperation = Exclude<keyof Backend, "close">;

interface BackendMetricFamilies {
  duration: Histogram<"backend" | "operation" | "outcome">;
  errors: Counter<"backend" | "operation" | "kind">;
}

/**
 * Families are looked up before they are created: a runner restarted inside one process (tests,
 * agentlabd reusing its registry) decorates a new backend on the same registry.
 */
function families(registry: Registry): BackendMetricFamilies {
  const durationName = "agentlab_runner_backend_call_duration_seconds";
  const errorsName = "agentlab_runner_backend_call_errors_total";
  const duration =
    (registry.getSingleMetric(durationName) as BackendMetricFamilies["duration"] | undefined) ??
    new Histogram({
      name: durationName,
      help: "Seconds a backend (hypervisor) call took, by backend kind, operation and outcome (ok or error).",
      labelNames: ["backend", "operation", "outcome"] as const,
      buckets: CALL_DURATION_BUCKETS,
      registers: [registry],
    });
  const errors =
    (registry.getSingleMetric(errorsName) as BackendMetricFamilies["errors"] | undefined) ??
    new Counter({
      name: errorsName,
      help: "Failed backend calls, by backend kind, operation and BackendError kind (internal for untyped errors).",
      labelNames: ["backend", "operation", "kind"] as const,
      registers: [registry],
    });
  return { duration, errors };
}

export function withBackendMetrics(backend: Backend, registry: Registry, kind: BackendKind): Backend {
  const { duration, errors } = families(registry);

  async function measure<T>(operation: BackendOperation, call: () => Promise<T>): Promise<T> {
    const stopTimer = duration.startTimer({ backend: kind, operation });
    try {
      const result = await call();
      stopTimer({ outcome: "ok" });
      return result;
    } catch (err) {
      stopTimer({ outcome: "error" });
      // Every backend failure should be a BackendError; anything else is a bug, counted as internal.
      const errorKind: BackendErrorKind = isBackendError(err) ? err.kind : "internal";
      errors.inc({ backend: kind, operation, kind: errorKind });
      throw err;
    }
  }

  // Listed method by method (no Proxy) so a method added to Backend fails to compile here until it is timed.
  return {
    info: (ctx: CallContext) => measure("info", () => backend.info(ctx)),
    provision: (ctx, spec) => measure("provision", () => backend.provision(ctx, spec)),
    start: (ctx, vmid) => measure("start", () => backend.start(ctx, vmid)),
    stop: (ctx, vmid, opts) => measure("stop", () => backend.stop(ctx, vmid, opts)),
    destroy: (ctx, vmid, opts) => measure("destroy", () => backend.destroy(ctx, vmid, opts)),
    status: (ctx, vmid) => measure("status", () => backend.status(ctx, vmid)),
    waitGuestIp: (ctx, vmid) => measure("waitGuestIp", () => backend.waitGuestIp(ctx, vmid)),
    listVms: (ctx, opts) => measure("listVms", () => backend.listVms(ctx, opts)),
    snapshotCreate: (ctx, vmid, name) => measure("snapshotCreate", () => backend.snapshotCreate(ctx, vmid, name)),
    snapshotRollback: (ctx, vmid, name) => measure("snapshotRollback", () => backend.snapshotRollback(ctx, vmid, name)),
    snapshotDelete: (ctx, vmid, name) => measure("snapshotDelete", () => backend.snapshotDelete(ctx, vmid, name)),
    volumeCreate: (ctx, spec) => measure("volumeCreate", () => backend.volumeCreate(ctx, spec)),
    volumeAttach: (ctx, vmid, volid, slot) =>
      measure("volumeAttach", () => backend.volumeAttach(ctx, vmid, volid, slot)),
    volumeDetach: (ctx, vmid, slot) => measure("volumeDetach", () => backend.volumeDetach(ctx, vmid, slot)),
    volumeDelete: (ctx, volid) => measure("volumeDelete", () => backend.volumeDelete(ctx, volid)),
    validateTemplate: (ctx, templateVmid) =>
      measure("validateTemplate", () => backend.validateTemplate(ctx, templateVmid)),
    close: () => backend.close(),
  };
}

/** The backend kind a config selects, for the `backend` label. */
export function backendKindOf(config: { sandbox_backend: string; proxmox_backend: string }): BackendKind {
  if (config.sandbox_backend === "local") return "local";
  return config.proxmox_backend === "shell" ? "proxmox-shell" : "proxmox-api";
}
