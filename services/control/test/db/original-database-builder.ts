import { readFileSync } from "node:fs";
import Database from "better-sqlite3";

export type OriginalLevel = 1 | 2 | 3;

const fixture = (level: OriginalLevel): string =>
  readFileSync(new URL(`./fixtures/original-v${level}.sql`, import.meta.url), "utf8");

/**
 * Builds a database as the original Go AgentLab left it at `level`, with rows in every table and
 * the original's RFC3339Nano timestamps (variable width, one with an offset). Duplicate live names
 * ("alpha" twice, plus a DESTROYED "alpha") exercise the name dedupe.
 */
export function buildOriginalDatabase(path: string, level: OriginalLevel): void {
  const db = new Database(path);
  db.pragma("journal_mode = WAL");
  db.pragma("foreign_keys = ON");
  for (let l = 1; l <= level; l++) db.exec(fixture(l as OriginalLevel));

  const sandbox = db.prepare(
    `INSERT INTO sandboxes (vmid, name, profile, state, ip, workspace_id, keepalive, lease_expires_at, created_at, updated_at, meta_json)
     VALUES (?, ?, 'default', ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  sandbox.run(
    1000,
    "alpha",
    "RUNNING",
    "10.77.0.10",
    null,
    0,
    "2025-01-15T12:00:00Z",
    "2025-01-15T10:00:00Z",
    "2025-01-15T10:00:00.1Z",
    null,
  );
  sandbox.run(
    1001,
    "alpha",
    "READY",
    "10.77.0.11",
    "workspace-00000000000000aa",
    1,
    null,
    "2025-01-15T10:00:00.5Z",
    "2025-01-15T10:00:01Z",
    '{"k":"v"}',
  );
  sandbox.run(
    1002,
    "alpha",
    "DESTROYED",
    null,
    null,
    0,
    null,
    "2025-01-14T08:00:00.123456789Z",
    "2025-01-14T09:00:00Z",
    null,
  );
  sandbox.run(
    1003,
    "sandbox-1003",
    "DESTROYED",
    null,
    null,
    0,
    "",
    "2025-01-13T08:00:00Z",
    "2025-01-13T08:30:00Z",
    null,
  );
  sandbox.run(
    1004,
    "beta",
    "STOPPED",
    "10.77.0.14",
    null,
    0,
    "2025-01-15T12:00:00.987654321+02:00",
    "2025-01-15T09:00:00.000001Z",
    "2025-01-15T09:10:00Z",
    null,
  );
  sandbox.run(
    1005,
    "gamma",
    "TIMEOUT",
    null,
    null,
    0,
    null,
    "2025-01-15T09:59:59.999999999Z",
    "2025-01-15T10:30:00Z",
    null,
  );

  db.prepare(
    `INSERT INTO profiles (name, template_vmid, yaml, updated_at) VALUES ('default', 9000, 'name: default', '2025-01-10T00:00:00Z')`,
  ).run();
  db.prepare(
    `INSERT INTO workspaces (id, name, storage, volid, size_gb, attached_vmid, created_at, updated_at, meta_json)
     VALUES ('workspace-00000000000000aa', 'ws-main', 'local-zfs', 'local-zfs:vm-1001-disk-1', 20, 1001, '2025-01-14T10:00:00.25Z', '2025-01-15T10:00:00.5Z', NULL)`,
  ).run();
  const token = db.prepare(
    `INSERT INTO bootstrap_tokens (token, vmid, expires_at, consumed_at, created_at) VALUES (?, ?, ?, ?, ?)`,
  );
  token.run("a".repeat(64), 1000, "2025-01-15T10:10:00Z", "2025-01-15T10:01:00.42Z", "2025-01-15T10:00:00Z");
  token.run("b".repeat(64), 1001, "2025-01-15T10:10:00.5Z", null, "2025-01-15T10:00:00.5Z");

  const jobColumns = level >= 2 ? ", task, mode, ttl_minutes, keepalive" : "";
  const jobValues = level >= 2 ? ", ?, ?, ?, ?" : "";
  const job = db.prepare(
    `INSERT INTO jobs (id, repo_url, ref, profile, status, sandbox_vmid, created_at, updated_at, result_json${jobColumns})
     VALUES (?, 'https://example.com/repo.git', 'main', 'default', ?, ?, ?, ?, ?${jobValues})`,
  );
  const jobRows: [string, string, number | null, string, string, string | null][] = [
    [
      "job_0000000000000001",
      "COMPLETED",
      1000,
      "2025-01-15T10:00:00Z",
      "2025-01-15T10:20:00.75Z",
      '{"status":"COMPLETED"}',
    ],
    ["job_0000000000000002", "RUNNING", 1001, "2025-01-15T10:00:00.5Z", "2025-01-15T10:00:02Z", null],
    ["job_0000000000000003", "QUEUED", null, "2025-01-15T10:00:00.123456789Z", "2025-01-15T10:00:00.123456789Z", null],
  ];
  for (const [id, status, vmid, created, updated, result] of jobRows) {
    const spec = level >= 2 ? [`task for ${id}`, "dangerous", 60, 0] : [];
    job.run(id, status, vmid, created, updated, result, ...spec);
  }

  const event = db.prepare(`INSERT INTO events (ts, kind, sandbox_vmid, job_id, msg, json) VALUES (?, ?, ?, ?, ?, ?)`);
  // Chronological insertion order; as stored text these do NOT sort chronologically.
  const eventTimes = [
    "2025-01-15T10:00:00Z",
    "2025-01-15T10:00:00.1Z",
    "2025-01-15T10:00:00.123456789Z",
    "2025-01-15T10:00:00.9Z",
    "2025-01-15T10:00:01Z",
    "2025-01-15T10:00:01.05Z",
  ];
  eventTimes.forEach((ts, i) => {
    event.run(
      ts,
      "sandbox.state",
      1000 + (i % 2),
      i % 2 ? null : "job_0000000000000001",
      `REQUESTED -> PROVISIONING ${i}`,
      i === 0 ? '{"a":1}' : null,
    );
  });

  if (level >= 3) {
    db.prepare(
      `INSERT INTO artifact_tokens (token, job_id, vmid, expires_at, created_at, last_used_at) VALUES (?, ?, ?, ?, ?, ?)`,
    ).run(
      "c".repeat(64),
      "job_0000000000000001",
      1000,
      "2025-01-16T10:00:00Z",
      "2025-01-15T10:02:00.3Z",
      "2025-01-15T10:19:00Z",
    );
    db.prepare(
      `INSERT INTO artifacts (job_id, vmid, name, path, size_bytes, sha256, mime, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      "job_0000000000000001",
      1000,
      "agentlab-artifacts.tar.gz",
      "agentlab-artifacts.tar.gz",
      1234,
      "d".repeat(64),
      "application/gzip",
      "2025-01-15T10:19:30.000000001Z",
    );
  }
  db.pragma("wal_checkpoint(TRUNCATE)");
  db.close();
}
