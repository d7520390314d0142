/**
 * Databases as an operator would bring them to an upgrade: the original Go AgentLab's at its
 * versions 1-3 (the shared fixtures and builder of services/control/test/db), and ours at every
 * earlier schema version (our migration runner with a prefix of our migration list), each holding
 * sandboxes, jobs, workspaces, tokens, events and artifacts — plus the artifact files on disk.
 */
import { createHash } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { migrate } from "@agentlab/control/db/migration-runner";
import { MIGRATIONS } from "@agentlab/control/db/migrations/migration-list";
import { closeDatabase, openDatabase } from "@agentlab/control/db/open-database";
import { normaliseTimestampText } from "@agentlab/control/db/timestamps";
import Database from "better-sqlite3";
import { buildOriginalDatabase } from "../../../services/control/test/db/original-database-builder.js";

export type DatabaseLevel = { kind: "original"; version: 1 | 2 | 3 } | { kind: "ours"; version: number };

export const LATEST_VERSION = MIGRATIONS.at(-1)?.version ?? 0;

export const levelName = (level: DatabaseLevel): string =>
  level.kind === "original" ? `the original's v${level.version}` : `our v${level.version}`;

/** Leases in the future, so lease expiry leaves the migrated sandboxes alone while we look at them. */
const FUTURE_LEASE = "2099-01-15T12:00:00.000Z";

/** The migrated job whose artifact we download, and the bytes of that artifact. */
export const MIGRATED_JOB_ID = "job_0000000000000001";
export const MIGRATED_ARTIFACT_PATH = "agentlab-artifacts.tar.gz";

export interface ArtifactFile {
  jobId: string;
  path: string;
  bytes: Buffer;
}

/** Deterministic bytes that are not text, so a download that mangles bytes shows. */
export function artifactBytes(seed: string, size: number): Buffer {
  const out = Buffer.alloc(size);
  let block = createHash("sha256").update(seed).digest();
  for (let i = 0; i < size; i++) {
    if (i % 32 === 0 && i > 0) block = createHash("sha256").update(block).digest();
    out[i] = block[i % 32] ?? 0;
  }
  return out;
}

const sha256 = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");

/** The file the original stored for an artifact row: `<artifact_dir>/<job_id>/<path>`. */
export function writeArtifactFile(artifactDir: string, file: ArtifactFile): void {
  const target = join(artifactDir, file.jobId, file.path);
  mkdirSync(dirname(target), { recursive: true });
  writeFileSync(target, file.bytes);
}

function columnsOf(db: Database.Database, table: string): Set<string> {
  return new Set((db.pragma(`table_info(${table})`) as { name: string }[]).map((c) => c.name));
}

/** Inserts the columns of `row` that the table has at this schema version; the others are left out. */
function insertKnownColumns(db: Database.Database, table: string, row: Record<string, unknown>): void {
  const known = columnsOf(db, table);
  if (known.size === 0) return; // the table does not exist yet at this version
  const entries = Object.entries(row).filter(([column]) => known.has(column));
  db.prepare(
    `INSERT INTO ${table} (${entries.map(([c]) => c).join(", ")}) VALUES (${entries.map(() => "?").join(", ")})`,
  ).run(...entries.map(([, v]) => v));
}

const ts = (minute: number, ms = 0) =>
  `2025-02-10T09:${String(minute).padStart(2, "0")}:00.${String(ms).padStart(3, "0")}Z`;

/**
 * Rows as our binary at `version` wrote them: the original's columns every version has, plus each
 * later column once it exists (owner tag and runner from 5, orchestration fields from 7, report
 * tokens from 8, stored paths from 9, log lines from 10, idempotency keys from 11).
 */
function insertOurRows(db: Database.Database, ownerTag: string, artifacts: ArtifactFile[]): void {
  const sandbox = (vmid: number, name: string, state: string, extra: Record<string, unknown> = {}) =>
    insertKnownColumns(db, "sandboxes", {
      vmid,
      name,
      profile: "default",
      state,
      ip: state === "DESTROYED" ? null : `10.77.0.${vmid - 990}`,
      workspace_id: null,
      keepalive: 0,
      lease_expires_at: state === "DESTROYED" ? null : FUTURE_LEASE,
      created_at: ts(vmid - 1000),
      updated_at: ts(vmid - 1000, 500),
      meta_json: `{"stateEnteredAt":"${ts(vmid - 1000, 500)}"}`,
      owner_tag: ownerTag,
      runner: "local",
      request_id: `create-${vmid}`,
      ...extra,
    });
  sandbox(1000, "alpha", "RUNNING");
  sandbox(1001, "beta", "READY", { workspace_id: "workspace-00000000000000bb", keepalive: 1 });
  sandbox(1002, "alpha", "DESTROYED", { termination_reason: "destroyed by user" });
  sandbox(1004, "gamma", "STOPPED");
  sandbox(1005, "delta", "TIMEOUT", { termination_reason: "lease expired" });

  insertKnownColumns(db, "profiles", {
    name: "default",
    template_vmid: 9000,
    yaml: "name: default",
    updated_at: ts(0),
  });
  insertKnownColumns(db, "workspaces", {
    id: "workspace-00000000000000bb",
    name: "ws-ours",
    storage: "local",
    volid: "local:ws-ours",
    size_gb: 5,
    attached_vmid: 1001,
    created_at: ts(1),
    updated_at: ts(1, 250),
    meta_json: null,
  });
  insertKnownColumns(db, "workspaces", {
    id: "workspace-00000000000000cc",
    name: "ws-spare",
    storage: "local",
    volid: "local:ws-spare",
    size_gb: 1,
    attached_vmid: null,
    created_at: ts(2),
    updated_at: ts(2),
    meta_json: null,
  });
  const job = (id: string, status: string, vmid: number | null, extra: Record<string, unknown> = {}) =>
    insertKnownColumns(db, "jobs", {
      id,
      repo_url: "https://example.com/ours.git",
      ref: "main",
      profile: "default",
      status,
      sandbox_vmid: vmid,
      created_at: ts(3),
      updated_at: ts(4),
      result_json: status === "COMPLETED" ? '{"status":"COMPLETED"}' : null,
      task: `task for ${id}`,
      mode: "dangerous",
      ttl_minutes: 60,
      keepalive: 0,
      agent_command: "make fix",
      started_at: ts(3, 100),
      finished_at: ts(4),
      last_heartbeat_at: ts(3, 900),
      idempotency_key: `key-${id}`,
      ...extra,
    });
  job(MIGRATED_JOB_ID, "COMPLETED", 1000);
  job("job_0000000000000002", "FAILED", 1005, { failure_reason: "agent exited 1", result_json: null });

  insertKnownColumns(db, "bootstrap_tokens", {
    token: "a".repeat(64),
    vmid: 1000,
    expires_at: ts(10),
    consumed_at: ts(3, 50),
    created_at: ts(3),
    job_id: MIGRATED_JOB_ID,
  });
  insertKnownColumns(db, "report_tokens", {
    token_hash: "e".repeat(64),
    job_id: MIGRATED_JOB_ID,
    vmid: 1000,
    expires_at: ts(30),
    created_at: ts(3),
  });
  insertKnownColumns(db, "artifact_tokens", {
    token: "c".repeat(64),
    job_id: MIGRATED_JOB_ID,
    vmid: 1000,
    expires_at: ts(30),
    created_at: ts(3, 60),
    last_used_at: ts(3, 990),
    revoked_at: ts(4),
  });
  for (const file of artifacts) {
    insertKnownColumns(db, "artifacts", {
      job_id: file.jobId,
      vmid: 1000,
      name: file.path.split("/").at(-1),
      path: file.path,
      size_bytes: file.bytes.length,
      sha256: sha256(file.bytes),
      mime: file.path.endsWith(".patch") ? "text/x-diff" : "application/gzip",
      created_at: ts(3, 980),
      stored_path: `${file.jobId}/${file.path}`,
    });
  }
  for (let seq = 1; seq <= 3; seq++) {
    insertKnownColumns(db, "job_logs", {
      job_id: MIGRATED_JOB_ID,
      seq,
      ts: ts(3, 200 + seq),
      stream: "stdout",
      data: `line ${seq}\n`,
    });
  }
  insertKnownColumns(db, "idempotency_keys", {
    key: `key-${MIGRATED_JOB_ID}`,
    kind: "job",
    resource_id: MIGRATED_JOB_ID,
    request_hash: "f".repeat(64),
    created_at: ts(3),
  });
  for (let i = 0; i < 4; i++) {
    insertKnownColumns(db, "events", {
      ts: ts(3, 10 * i),
      kind: "sandbox.state",
      sandbox_vmid: 1000,
      job_id: i % 2 ? MIGRATED_JOB_ID : null,
      msg: `state change ${i}`,
      json: i === 0 ? '{"from":"REQUESTED","to":"PROVISIONING"}' : null,
    });
  }
}

/**
 * Builds the database at `level` in `dbPath` and writes the artifact files its rows name into
 * `artifactDir`. Our versions are made by our own migration runner (no backup: nothing to keep yet).
 */
export async function buildDatabaseAt(
  dbPath: string,
  level: DatabaseLevel,
  options: { artifactDir: string; ownerTag: string },
): Promise<void> {
  const artifacts: ArtifactFile[] = [
    { jobId: MIGRATED_JOB_ID, path: MIGRATED_ARTIFACT_PATH, bytes: artifactBytes(`${dbPath} bundle`, 5_000) },
  ];
  if (level.kind === "original") {
    buildOriginalDatabase(dbPath, level.version);
    const db = new Database(dbPath);
    // Live sandboxes whose lease runs on (the fixture's 2025 leases would have expired long ago).
    db.prepare(`UPDATE sandboxes SET lease_expires_at = replace(lease_expires_at, '2025-', '2099-')`).run();
    if (level.version === 3) {
      // The fixture's artifact row names a file it does not write; ours is real, so size and hash match it.
      const [bundle] = artifacts;
      if (!bundle) throw new Error("unreachable");
      db.prepare(`UPDATE artifacts SET size_bytes = ?, sha256 = ? WHERE job_id = ? AND path = ?`).run(
        bundle.bytes.length,
        sha256(bundle.bytes),
        bundle.jobId,
        bundle.path,
      );
    }
    db.pragma("wal_checkpoint(TRUNCATE)");
    db.close();
    if (level.version === 3) for (const file of artifacts) writeArtifactFile(options.artifactDir, file);
    return;
  }
  artifacts.push({
    jobId: MIGRATED_JOB_ID,
    path: "changes.patch",
    bytes: Buffer.from("--- a/x\n+++ b/x\n@@ -1 +1 @@\n-old\n+new\n"),
  });
  const db = openDatabase(dbPath);
  try {
    await migrate(db, {
      dbPath,
      clock: () => new Date("2025-02-10T09:00:00.000Z"),
      takeBackup: false,
      migrations: MIGRATIONS.filter((m) => m.version <= level.version),
    });
    db.transaction(() => insertOurRows(db, options.ownerTag, artifacts))();
    db.pragma("wal_checkpoint(TRUNCATE)");
  } finally {
    closeDatabase(db);
  }
  if (level.version >= 3) for (const file of artifacts) writeArtifactFile(options.artifactDir, file);
}

export type Row = Record<string, unknown>;

/** Every table and its rows, read through sqlite (read-only, so a running agentlabd is not disturbed). */
export function readAllRows(dbPath: string): Record<string, Row[]> {
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  try {
    const tables = db
      .prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`)
      .pluck()
      .all() as string[];
    return Object.fromEntries(tables.map((t) => [t, db.prepare(`SELECT * FROM "${t}" ORDER BY 1, 2`).all() as Row[]]));
  } finally {
    db.close();
  }
}

export function schemaVersionOf(dbPath: string): number {
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  try {
    return (db.prepare(`SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).pluck().get() as number) ?? 0;
  } finally {
    db.close();
  }
}

/** What a stored timestamp becomes once migration 4 has run: fixed width, milliseconds, UTC. */
export function normalisedTimestamp(value: unknown): unknown {
  return typeof value === "string" && value !== "" ? (normaliseTimestampText(value) ?? value) : value;
}
