/**
 * Job outcomes and durations, derived from the final `job.<status>` events the job finalizer
 * publishes once per job (payload `{status, reason?}`). Other `job.*` events (queued, waiting,
 * running, requeued, cancel_requested) are progress, not outcomes, and are skipped.
 */
import { Counter, Histogram, type Registry } from "prom-client";
import type { SqliteDatabase } from "../db/open-database.js";
import type { StoredEvent } from "../events/event-store.js";

export const JOB_OUTCOMES = ["COMPLETED", "FAILED", "TIMEOUT", "CANCELED"] as const;
type JobOutcome = (typeof JOB_OUTCOMES)[number];

/** Seconds; agent runs last from under a minute to the longest job TTL (hours). */
const JOB_DURATION_BUCKETS = [10, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14_400, 28_800, 86_400];

export interface JobMetrics {
  observe(event: StoredEvent): void;
}

interface JobTimesRow {
  created_at: string | null;
  finished_at: string | null;
}

export function createJobMetrics(registry: Registry, db: SqliteDatabase): JobMetrics {
  const outcomes = new Counter({
    name: "agentlab_control_jobs_finished_total",
    help: "Jobs that reached a final status, by status (COMPLETED, FAILED, TIMEOUT, CANCELED).",
    labelNames: ["status"] as const,
    registers: [registry],
  });
  const durations = new Histogram({
    name: "agentlab_control_job_duration_seconds",
    help: "Seconds from job submission (QUEUED) to its final status, queue wait included, by final status.",
    labelNames: ["status"] as const,
    buckets: JOB_DURATION_BUCKETS,
    registers: [registry],
  });
  // Read straight from the table (columns of migrations 1 and 7) rather than through the job store,
  // so metrics do not depend on the store's evolving record shape.
  const jobTimes = db.prepare("SELECT created_at, finished_at FROM jobs WHERE id = ?");

  for (const status of JOB_OUTCOMES) outcomes.inc({ status }, 0);

  return {
    observe(event) {
      if (!event.kind.startsWith("job.")) return;
      const status = outcomeOf(event);
      if (!status) return;
      outcomes.inc({ status });
      if (!event.jobId) return;
      const row = jobTimes.get(event.jobId) as JobTimesRow | undefined;
      if (!row?.created_at) return;
      const end = Date.parse(row.finished_at ?? event.ts);
      const seconds = (end - Date.parse(row.created_at)) / 1000;
      if (Number.isFinite(seconds) && seconds >= 0) durations.observe({ status }, seconds);
    },
  };
}

/** The payload's status when it is final; else the kind's suffix (`job.timeout`) when that is. */
function outcomeOf(event: StoredEvent): JobOutcome | undefined {
  const payload = event.payload;
  const fromPayload =
    payload !== null && typeof payload === "object" ? (payload as { status?: unknown }).status : undefined;
  const candidates = [fromPayload, event.kind.slice("job.".length).toUpperCase()];
  for (const candidate of candidates) {
    if (typeof candidate !== "string") continue;
    const upper = candidate.toUpperCase();
    if ((JOB_OUTCOMES as readonly string[]).includes(upper)) return upper as JobOutcome;
  }
  return undefined;
}
