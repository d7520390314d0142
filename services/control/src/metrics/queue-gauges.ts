/**
 * Queue depth and sandboxes by state, computed from the database on each scrape: gauges kept up
 * to date from events would drift after a restart or a row changed by a migration, the table never does.
 */
import { Gauge, type Registry } from "prom-client";
import type { SqliteDatabase } from "../db/open-database.js";
import { isSandboxState, SANDBOX_STATES } from "../sandboxes/sandbox-state-machine.js";

const COUNTED_STATES = SANDBOX_STATES.filter((state) => state !== "DESTROYED");

export function registerQueueGauges(registry: Registry, db: SqliteDatabase): void {
  // Statuses are compared upper-cased: rows migrated from the original may hold lower case.
  const queuedJobs = db.prepare("SELECT COUNT(*) AS n FROM jobs WHERE UPPER(status) = 'QUEUED'");
  const sandboxesByState = db.prepare(
    "SELECT state, COUNT(*) AS n FROM sandboxes WHERE state != 'DESTROYED' GROUP BY state",
  );

  new Gauge({
    name: "agentlab_control_jobs_queued",
    help: "Jobs waiting in QUEUED (admission caps, no runner capacity, or not yet picked up).",
    registers: [registry],
    collect() {
      // A scrape racing shutdown must not touch a closed handle (better-sqlite3 throws).
      if (!db.open) return;
      this.set((queuedJobs.get() as { n: number }).n);
    },
  });

  new Gauge({
    name: "agentlab_control_sandboxes",
    help: "Sandboxes not DESTROYED, by state.",
    labelNames: ["state"] as const,
    registers: [registry],
    collect() {
      if (!db.open) return;
      const counts = new Map<string, number>(COUNTED_STATES.map((state) => [state, 0]));
      for (const row of sandboxesByState.all() as Array<{ state: string; n: number }>) {
        // A state this version does not know reads as FAILED, as the sandbox store reads it.
        const state = isSandboxState(row.state) ? row.state : "FAILED";
        counts.set(state, (counts.get(state) ?? 0) + row.n);
      }
      for (const [state, n] of counts) this.set({ state }, n);
    },
  });
}
