import { createMetricsRegistry } from "@agentlab/core/metrics/metrics-registry";
import type { Registry } from "prom-client";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { migrate } from "../../src/db/migration-runner.js";
import { closeDatabase, openDatabase, type SqliteDatabase } from "../../src/db/open-database.js";
import { nowTimestamp } from "../../src/db/timestamps.js";
import { EventBus } from "../../src/events/event-bus.js";
import { recordEvent } from "../../src/events/record-event.js";
import { attachControlMetrics, type ControlMetrics } from "../../src/metrics/control-metrics.js";
import type { SandboxStateName } from "../../src/sandboxes/sandbox-state-machine.js";
import { insertSandbox } from "../../src/sandboxes/sandbox-store.js";
import { transitionSandbox } from "../../src/sandboxes/sandbox-transitions.js";
import { ampleDisk, makeFakeClock, makeTempDir } from "../db/temp-database-dir.js";

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

async function sampleValue(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const match = (await samples(registry, name)).find((s) =>
    Object.entries(labels).every(([k, v]) => String(s.labels[k]) === v),
  );
  return match?.value ?? 0;
}

/** Cumulative count of the histogram bucket `le` (Prometheus buckets include everything below). */
async function bucket(registry: Registry, name: string, le: number, labels: Record<string, string> = {}) {
  const all = await samples(registry, name);
  const hit = all.find(
    (s) =>
      s.metricName === `${name}_bucket` &&
      s.labels.le === le &&
      Object.entries(labels).every(([k, v]) => String(s.labels[k]) === v),
  );
  if (!hit) throw new Error(`${name} has no bucket le=${le}`);
  return hit.value;
}

describe("control metrics from the event bus", () => {
  let tmp: ReturnType<typeof makeTempDir>;
  let db: SqliteDatabase;
  let bus: EventBus;
  let registry: Registry;
  let metrics: ControlMetrics;
  const fake = makeFakeClock("2026-05-01T10:00:00.000Z");
  const ctx = () => ({ db, bus, clock: fake.clock });

  beforeEach(async () => {
    tmp = makeTempDir("agentlab-metrics-");
    db = openDatabase(tmp.dbPath);
    fake.set("2026-05-01T10:00:00.000Z");
    await migrate(db, { dbPath: tmp.dbPath, clock: fake.clock, freeBytes: ampleDisk });
    bus = new EventBus();
    registry = createMetricsRegistry("control", { defaultMetrics: false });
    metrics = attachControlMetrics({ registry, db, bus });
  });
  afterEach(() => {
    metrics.stop();
    closeDatabase(db);
    tmp.remove();
  });

  function createSandbox(vmid: number): void {
    insertSandbox(
      db,
      {
        vmid,
        name: `sb-${vmid}`,
        profile: "p",
        keepalive: false,
        leaseExpiresAt: null,
        ownerTag: "agentlab-test",
        runner: "local",
        requestId: null,
        workspaceId: null,
        meta: {},
      },
      nowTimestamp(fake.clock),
    );
  }

  function walk(vmid: number, path: SandboxStateName[], stepMs: number): void {
    for (let i = 1; i < path.length; i++) {
      fake.advanceMs(stepMs);
      transitionSandbox(ctx(), vmid, path[i - 1] as SandboxStateName, path[i] as SandboxStateName);
    }
  }

  function insertJob(id: string, status: string): void {
    const now = nowTimestamp(fake.clock);
    db.prepare(
      `INSERT INTO jobs (id, repo_url, ref, profile, status, created_at, updated_at, task, mode, ttl_minutes, keepalive)
       VALUES (?, 'https://example.invalid/r.git', 'main', 'p', ?, ?, ?, 't', 'dangerous', 60, 0)`,
    ).run(id, status, now, now);
  }

  /** What the job finalizer does: mark the row final, then publish `job.<status>` with the status. */
  function finishJob(id: string, status: string): void {
    const now = nowTimestamp(fake.clock);
    db.prepare("UPDATE jobs SET status = ?, finished_at = ?, updated_at = ? WHERE id = ?").run(status, now, now, id);
    recordEvent(
      db,
      bus,
      { kind: `job.${status.toLowerCase()}`, jobId: id, msg: "done", payload: { status } },
      fake.clock,
    );
  }

  it("counts each transition by from/to and times REQUESTED to READY into the right buckets", async () => {
    createSandbox(1001);
    walk(1001, ["REQUESTED", "PROVISIONING", "BOOTING", "READY", "RUNNING", "COMPLETED", "DESTROYED"], 4_000);
    createSandbox(1002);
    walk(1002, ["REQUESTED", "PROVISIONING", "BOOTING", "READY"], 40_000);
    createSandbox(1003);
    walk(1003, ["REQUESTED", "PROVISIONING", "FAILED"], 1_000);

    const name = "agentlab_control_sandbox_transitions_total";
    expect(await sampleValue(registry, name, { from: "REQUESTED", to: "PROVISIONING" })).toBe(3);
    expect(await sampleValue(registry, name, { from: "BOOTING", to: "READY" })).toBe(2);
    expect(await sampleValue(registry, name, { from: "PROVISIONING", to: "FAILED" })).toBe(1);
    expect(await sampleValue(registry, name, { from: "COMPLETED", to: "DESTROYED" })).toBe(1);

    // 1001 was READY 12 s after creation (3 steps of 4 s), 1002 after 120 s; 1003 never was.
    const ready = "agentlab_control_sandbox_time_to_ready_seconds";
    expect(await bucket(registry, ready, 10)).toBe(0);
    expect(await bucket(registry, ready, 20)).toBe(1);
    expect(await bucket(registry, ready, 90)).toBe(1);
    expect(await bucket(registry, ready, 120)).toBe(2);
    const all = await samples(registry, ready);
    expect(all.find((s) => s.metricName === `${ready}_count`)?.value).toBe(2);
    expect(all.find((s) => s.metricName === `${ready}_sum`)?.value).toBe(132);
  });

  it("does not time a restart of a stopped sandbox as a provisioning", async () => {
    createSandbox(1004);
    walk(1004, ["REQUESTED", "PROVISIONING", "BOOTING", "READY", "STOPPED"], 2_000);
    fake.advanceMs(3 * 24 * 3600_000);
    walk(1004, ["STOPPED", "BOOTING", "READY"], 2_000);

    const all = await samples(registry, "agentlab_control_sandbox_time_to_ready_seconds");
    expect(all.find((s) => s.metricName?.endsWith("_count"))?.value).toBe(1);
    expect(all.find((s) => s.metricName?.endsWith("_sum"))?.value).toBe(6);
    expect(
      await sampleValue(registry, "agentlab_control_sandbox_transitions_total", { from: "BOOTING", to: "READY" }),
    ).toBe(2);
  });

  it("counts final job events by status, skips progress events, and times submission to end", async () => {
    insertJob("job_a", "QUEUED");
    insertJob("job_b", "QUEUED");
    insertJob("job_c", "QUEUED");
    recordEvent(db, bus, { kind: "job.queued", jobId: "job_a", msg: "queued" }, fake.clock);
    recordEvent(db, bus, { kind: "job.running", jobId: "job_a", msg: "running" }, fake.clock);
    fake.advanceMs(45_000);
    finishJob("job_a", "COMPLETED");
    fake.advanceMs(255_000);
    finishJob("job_b", "FAILED");
    // An event without a payload still counts by its kind.
    recordEvent(db, bus, { kind: "job.timeout", jobId: "job_c", msg: "ttl" }, fake.clock);

    const outcomes = "agentlab_control_jobs_finished_total";
    expect(await sampleValue(registry, outcomes, { status: "COMPLETED" })).toBe(1);
    expect(await sampleValue(registry, outcomes, { status: "FAILED" })).toBe(1);
    expect(await sampleValue(registry, outcomes, { status: "TIMEOUT" })).toBe(1);
    expect(await sampleValue(registry, outcomes, { status: "CANCELED" })).toBe(0);
    expect((await samples(registry, outcomes)).map((s) => s.labels.status).sort()).toEqual([
      "CANCELED",
      "COMPLETED",
      "FAILED",
      "TIMEOUT",
    ]);

    const durations = "agentlab_control_job_duration_seconds";
    expect(await bucket(registry, durations, 30, { status: "COMPLETED" })).toBe(0);
    expect(await bucket(registry, durations, 60, { status: "COMPLETED" })).toBe(1);
    expect(await bucket(registry, durations, 120, { status: "FAILED" })).toBe(0);
    expect(await bucket(registry, durations, 300, { status: "FAILED" })).toBe(1);
    // job_c's row has no finished_at: it is timed to the event (300 s after its submission).
    expect(await bucket(registry, durations, 300, { status: "TIMEOUT" })).toBe(1);
  });

  it("computes queue depth and sandboxes by state from the database at scrape time", async () => {
    insertJob("job_q1", "QUEUED");
    insertJob("job_q2", "queued");
    insertJob("job_r", "RUNNING");
    createSandbox(2001);
    createSandbox(2002);
    walk(2002, ["REQUESTED", "PROVISIONING", "BOOTING"], 1_000);
    createSandbox(2003);
    walk(2003, ["REQUESTED", "DESTROYED"], 1_000);

    expect(await sampleValue(registry, "agentlab_control_jobs_queued")).toBe(2);
    const states = "agentlab_control_sandboxes";
    expect(await sampleValue(registry, states, { state: "REQUESTED" })).toBe(1);
    expect(await sampleValue(registry, states, { state: "BOOTING" })).toBe(1);
    expect(await sampleValue(registry, states, { state: "READY" })).toBe(0);
    expect((await samples(registry, states)).some((s) => s.labels.state === "DESTROYED")).toBe(false);

    const text = await registry.metrics();
    expect(text).toContain('agentlab_control_jobs_queued{service="control"} 2');
    expect(text).toContain('agentlab_control_sandboxes{state="BOOTING",service="control"} 1');
  });

  it("stops following the bus once stopped", async () => {
    metrics.stop();
    createSandbox(3001);
    walk(3001, ["REQUESTED", "PROVISIONING"], 1_000);
    expect(
      await sampleValue(registry, "agentlab_control_sandbox_transitions_total", {
        from: "REQUESTED",
        to: "PROVISIONING",
      }),
    ).toBe(0);
  });
});
