/** A migrated database in a temp dir with helpers to seed jobs, sandboxes and migrated rows. */
import { pino } from "pino";
import { closeDatabase, type SqliteDatabase } from "../../src/db/open-database.js";
import { openMigratedDatabase } from "../../src/db/open-migrated-database.js";
import { EventBus } from "../../src/events/event-bus.js";
import { listEvents, type StoredEvent } from "../../src/events/event-store.js";
import { ampleDisk, makeFakeClock, makeTempDir } from "../db/temp-database-dir.js";

export interface ArtifactTestDb {
  db: SqliteDatabase;
  bus: EventBus;
  /** Events announced on the bus, in order. */
  published: StoredEvent[];
  fake: ReturnType<typeof makeFakeClock>;
  dir: string;
  close(): void;
}

export const START = "2025-03-01T12:00:00.000Z";

export async function openArtifactTestDb(): Promise<ArtifactTestDb> {
  const tmp = makeTempDir("agentlab-artifacts-");
  const fake = makeFakeClock(START);
  const { db } = await openMigratedDatabase({
    dbPath: tmp.dbPath,
    clock: fake.clock,
    freeBytes: ampleDisk,
    takeBackup: false,
  });
  const bus = new EventBus();
  const published: StoredEvent[] = [];
  bus.subscribe((e) => published.push(e));
  return {
    db,
    bus,
    published,
    fake,
    dir: tmp.dir,
    close() {
      closeDatabase(db);
      tmp.remove();
    },
  };
}

export interface JobSeed {
  id: string;
  status?: string;
  profile?: string;
  sandboxVmid?: number | null;
  updatedAt?: string;
  finishedAt?: string | null;
}

export function insertJob(db: SqliteDatabase, job: JobSeed): void {
  db.prepare(
    `INSERT INTO jobs (id, repo_url, ref, profile, status, sandbox_vmid, created_at, updated_at, finished_at)
     VALUES (?, 'https://example.test/repo.git', 'main', ?, ?, ?, ?, ?, ?)`,
  ).run(
    job.id,
    job.profile ?? "default",
    job.status ?? "RUNNING",
    job.sandboxVmid === undefined ? 1001 : job.sandboxVmid,
    START,
    job.updatedAt ?? START,
    job.finishedAt ?? null,
  );
}

export function insertSandbox(db: SqliteDatabase, vmid: number, state: string): void {
  db.prepare(
    `INSERT INTO sandboxes (vmid, name, profile, state, created_at, updated_at)
     VALUES (?, ?, 'default', ?, ?, ?)`,
  ).run(vmid, `sandbox-${vmid}`, state, START, START);
}

export function setJob(
  db: SqliteDatabase,
  id: string,
  status: string,
  finishedAt: string | null,
  updatedAt = START,
): void {
  db.prepare("UPDATE jobs SET status = ?, finished_at = ?, updated_at = ? WHERE id = ?").run(
    status,
    finishedAt,
    updatedAt,
    id,
  );
}

/** A row as the original wrote it: no stored_path, the file is `<job_id>/<path>`. */
export function insertMigratedArtifact(
  db: SqliteDatabase,
  row: { jobId: string; path: string; vmid?: number | null; size?: number; createdAt?: string; mime?: string | null },
): number {
  const info = db
    .prepare(
      `INSERT INTO artifacts (job_id, vmid, name, path, size_bytes, sha256, mime, created_at, stored_path)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL)`,
    )
    .run(
      row.jobId,
      row.vmid === undefined ? 1001 : row.vmid,
      row.path.slice(row.path.lastIndexOf("/") + 1),
      row.path,
      row.size ?? 10,
      "a".repeat(64),
      row.mime === undefined ? "application/gzip" : row.mime,
      row.createdAt ?? START,
    );
  return Number(info.lastInsertRowid);
}

export function artifactIds(db: SqliteDatabase): number[] {
  return (db.prepare("SELECT id FROM artifacts ORDER BY id").all() as { id: number }[]).map((r) => r.id);
}

export function eventsOfKind(db: SqliteDatabase, kind: string): StoredEvent[] {
  return listEvents(db, { kinds: [kind], limit: 1000 });
}

export const silentLogger = pino({ level: "silent" });
