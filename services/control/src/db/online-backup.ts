import { closeSync, fsyncSync, openSync, renameSync, rmSync, statSync } from "node:fs";
import { dirname } from "node:path";
import { closeDatabase, openDatabase, type SqliteDatabase } from "./open-database.js";

export interface BackupResult {
  readonly path: string;
  readonly bytes: number;
}

function fsyncPath(path: string): void {
  const fd = openSync(path, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Copies an open connection's database with SQLite's online backup API, into a temp file renamed
 * into place once complete and synced, so `outPath` is either absent or a whole database. The
 * backup API gives a consistent snapshot: if another connection writes mid-copy, SQLite restarts
 * the copy; writes through this connection are carried into it.
 */
export async function backupConnection(db: SqliteDatabase, outPath: string): Promise<BackupResult> {
  const tempPath = `${outPath}.partial-${process.pid}`;
  try {
    await db.backup(tempPath);
    fsyncPath(tempPath);
    renameSync(tempPath, outPath);
    fsyncPath(dirname(outPath));
  } catch (error) {
    rmSync(tempPath, { force: true });
    throw new Error(
      `backup of ${db.name} to ${outPath} failed: ${(error as Error).message}; ` +
        "check free space and permissions in the backup directory",
      { cause: error },
    );
  }
  return { path: outPath, bytes: statSync(outPath).size };
}

/** Online backup of the database at `dbPath` (safe while control is running and writing). */
export async function backupDatabase(dbPath: string, outPath: string): Promise<BackupResult> {
  const db = openDatabase(dbPath, { readonly: true });
  try {
    return await backupConnection(db, outPath);
  } finally {
    closeDatabase(db);
  }
}
