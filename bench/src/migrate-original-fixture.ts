import { initCoreTables } from "@agentlab/control/db/migrations/0001-init-core-tables";
import Database from "better-sqlite3";

export interface OriginalFixtureSize {
  readonly sandboxes: number;
  readonly jobs: number;
  readonly events: number;
}

const STATES = ["DESTROYED", "DESTROYED", "DESTROYED", "DESTROYED", "RUNNING", "READY", "STOPPED", "TIMEOUT"];
const BASE_MS = Date.UTC(2025, 0, 15, 10, 0, 0);

/**
 * Go RFC3339Nano as the original wrote it: nanoseconds with trailing zeros trimmed, no fraction at
 * all on whole seconds, so widths vary row to row.
 */
function rfc3339Nano(ms: number, nanosWithinMs: number): string {
  const iso = new Date(ms).toISOString(); // …:SS.mmmZ
  const fraction = `${iso.slice(20, 23)}${String(nanosWithinMs).padStart(6, "0")}`.replace(/0+$/, "");
  return `${iso.slice(0, 19)}${fraction ? `.${fraction}` : ""}Z`;
}

const jobId = (n: number): string => `job_${n.toString(16).padStart(16, "0")}`;

/**
 * A database as the original Go AgentLab left it at schema version 1 (our migration 1 is its DDL),
 * filled with a realistic mix: most sandboxes destroyed, 1% sharing a name, every timestamp
 * variable-width.
 */
export function buildOriginalV1Database(path: string, size: OriginalFixtureSize): void {
  const db = new Database(path);
  // Building the fixture is not what is measured: no journal, no fsync.
  db.pragma("journal_mode = OFF");
  db.pragma("synchronous = OFF");
  db.exec(`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`);
  initCoreTables.up(db, { now: "" });
  db.prepare(`INSERT INTO schema_migrations VALUES (1, 'init_core_tables', ?)`).run(rfc3339Nano(BASE_MS, 123456));
  const sandbox = db.prepare(
    `INSERT INTO sandboxes (vmid, name, profile, state, ip, keepalive, lease_expires_at, created_at, updated_at)
     VALUES (?, ?, 'default', ?, ?, 0, ?, ?, ?)`,
  );
  const job = db.prepare(
    `INSERT INTO jobs (id, repo_url, ref, profile, status, sandbox_vmid, created_at, updated_at, result_json)
     VALUES (?, 'https://example.com/repo.git', 'main', 'default', ?, ?, ?, ?, ?)`,
  );
  const event = db.prepare(`INSERT INTO events (ts, kind, sandbox_vmid, job_id, msg) VALUES (?, ?, ?, ?, ?)`);
  db.transaction(() => {
    for (let i = 0; i < size.sandboxes; i++) {
      const vmid = 1000 + i;
      const ms = BASE_MS + i * 1000 + (i % 1000);
      const state = STATES[i % STATES.length]!;
      const name = i % 100 === 5 && i > 100 ? `sandbox-${vmid - 100}` : `sandbox-${vmid}`;
      sandbox.run(
        vmid,
        name,
        state,
        `10.77.${(i >> 8) & 255}.${i & 255}`,
        rfc3339Nano(ms + 3_600_000, 0),
        rfc3339Nano(ms, (i * 7919) % 1_000_000),
        rfc3339Nano(ms + 500, 0),
      );
    }
    for (let i = 0; i < size.jobs; i++) {
      const ms = BASE_MS + i * 1000 + (i % 7) * 100;
      job.run(
        jobId(i),
        i % 10 === 0 ? "FAILED" : "COMPLETED",
        1000 + (i % size.sandboxes),
        rfc3339Nano(ms, i % 3 ? 0 : 250_000),
        rfc3339Nano(ms + 60_000, 0),
        '{"status":"COMPLETED"}',
      );
    }
    for (let i = 0; i < size.events; i++) {
      const second = Math.floor(i / 10);
      event.run(
        rfc3339Nano(BASE_MS + second * 1000 + (i % 10) * 10, (i % 4) * 1000),
        i % 5 === 0 ? "job.report" : "sandbox.state",
        1000 + (second % size.sandboxes),
        i % 2 ? null : jobId(second % size.jobs),
        "RUNNING -> COMPLETED",
      );
    }
  })();
  db.pragma("journal_mode = WAL");
  db.close();
}
