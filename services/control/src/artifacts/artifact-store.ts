/** Rows of `artifacts` (migration 3, `stored_path` from migration 9). */
import type { SqliteDatabase } from "../db/open-database.js";

export interface ArtifactRow {
  readonly id: number;
  readonly jobId: string;
  /** NULL on rows migrated from the original that had none. */
  readonly vmid: number | null;
  readonly name: string;
  readonly path: string;
  readonly sizeBytes: number;
  readonly sha256: string;
  readonly mime: string | null;
  readonly createdAt: string;
  /** NULL on rows migrated from the original: their file is `<job_id>/<path>`. */
  readonly storedPath: string | null;
}

export interface NewArtifactRow {
  readonly jobId: string;
  readonly vmid: number;
  readonly name: string;
  readonly path: string;
  readonly sizeBytes: number;
  readonly sha256: string;
  readonly mime: string;
  readonly createdAt: string;
  readonly storedPath: string;
}

const COLUMNS = `id, job_id AS jobId, vmid, name, path, size_bytes AS sizeBytes, sha256, mime,
  created_at AS createdAt, stored_path AS storedPath`;

/** Where the file is, relative to artifact_dir, for new and migrated rows alike. */
export function storedPathOf(row: Pick<ArtifactRow, "jobId" | "path" | "storedPath">): string {
  return row.storedPath ?? `${row.jobId}/${row.path}`;
}

export function insertArtifactRow(db: SqliteDatabase, row: NewArtifactRow): ArtifactRow {
  const info = db
    .prepare(
      `INSERT INTO artifacts (job_id, vmid, name, path, size_bytes, sha256, mime, created_at, stored_path)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    )
    .run(row.jobId, row.vmid, row.name, row.path, row.sizeBytes, row.sha256, row.mime, row.createdAt, row.storedPath);
  return { ...row, id: Number(info.lastInsertRowid) };
}

/**
 * True when a row already names this file: its stored_path, or a migrated row whose implicit
 * `<job_id>/<path>` is the same file (deleting either would delete the other's file).
 */
export function isStoredPathRecorded(db: SqliteDatabase, storedPath: string): boolean {
  return (
    db
      .prepare(
        `SELECT 1 FROM artifacts
         WHERE stored_path = ? OR (stored_path IS NULL AND job_id || '/' || path = ?) LIMIT 1`,
      )
      .get(storedPath, storedPath) !== undefined
  );
}

/** A job's artifacts, oldest first (id order is upload order). */
export function listArtifactRows(db: SqliteDatabase, jobId: string): ArtifactRow[] {
  return db.prepare(`SELECT ${COLUMNS} FROM artifacts WHERE job_id = ? ORDER BY id`).all(jobId) as ArtifactRow[];
}

/** Deletes rows by id; returns how many existed. */
export function deleteArtifactRows(db: SqliteDatabase, ids: readonly number[]): number {
  const remove = db.prepare("DELETE FROM artifacts WHERE id = ?");
  let deleted = 0;
  for (const id of ids) deleted += remove.run(id).changes;
  return deleted;
}
