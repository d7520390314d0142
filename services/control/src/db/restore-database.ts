import { closeSync, fsyncSync, openSync, renameSync, rmSync } from "node:fs";
import { dirname } from "node:path";
import type { Migration } from "./migration.js";
import { RestoreRefusedError, SchemaRefusedError } from "./migration-errors.js";
import { planMigrations } from "./migration-plan.js";
import { MIGRATIONS } from "./migrations/migration-list.js";
import { backupConnection } from "./online-backup.js";
import { closeDatabase, openDatabase, type SqliteDatabase } from "./open-database.js";
import { integrityCheck } from "./status-queries.js";

export interface RestoreOptions {
  /** The backup file to restore. */
  readonly from: string;
  /** The live database path to replace. */
  readonly dbPath: string;
  /** True while any AgentLab service has the database open; restore refuses then. */
  readonly isServiceRunning: () => Promise<boolean>;
  readonly migrations?: readonly Migration[];
}

export interface RestoreResult {
  readonly restoredVersion: number;
}

function verifyBackup(backup: SqliteDatabase, from: string, migrations: readonly Migration[]): number {
  const integrity = integrityCheck(backup);
  if (!integrity.ok) {
    throw new RestoreRefusedError(
      `backup ${from} fails integrity_check (${integrity.messages.slice(0, 3).join("; ")}); pick another backup`,
    );
  }
  try {
    const plan = planMigrations(backup, migrations);
    if (plan.current === 0) {
      throw new RestoreRefusedError(`backup ${from} has no schema_migrations rows: it is not an AgentLab database`);
    }
    return plan.current;
  } catch (error) {
    if (error instanceof SchemaRefusedError) {
      throw new RestoreRefusedError(`backup ${from} has a schema this version cannot run: ${error.message}`, {
        cause: error,
      });
    }
    throw error;
  }
}

/**
 * Replaces the database with a verified backup. Refuses while a service runs (it would keep
 * writing to the replaced file's WAL). The copy is made with the backup API into a temp file next
 * to the database and renamed over it, after the old `-wal`/`-shm` are removed: a stale WAL would
 * otherwise be replayed onto the restored file.
 */
export async function restoreDatabase(options: RestoreOptions): Promise<RestoreResult> {
  const { from, dbPath } = options;
  if (await options.isServiceRunning()) {
    throw new RestoreRefusedError(
      `refusing to restore ${dbPath} while AgentLab is running; stop it first (sudo systemctl stop agentlabd.service) ` +
        "and run the restore again",
    );
  }
  let backup: SqliteDatabase;
  try {
    backup = openDatabase(from, { readonly: true });
  } catch (error) {
    throw new RestoreRefusedError(`cannot open backup ${from}: ${(error as Error).message}`, { cause: error });
  }
  const tempPath = `${dbPath}.restore-${process.pid}`;
  let restoredVersion: number;
  try {
    try {
      restoredVersion = verifyBackup(backup, from, options.migrations ?? MIGRATIONS);
    } catch (error) {
      // "file is not a database" surfaces on the first read, not on open.
      if (error instanceof RestoreRefusedError) throw error;
      throw new RestoreRefusedError(`backup ${from} is not a valid SQLite database: ${(error as Error).message}`, {
        cause: error,
      });
    }
    await backupConnection(backup, tempPath);
  } catch (error) {
    rmSync(tempPath, { force: true });
    throw error;
  } finally {
    closeDatabase(backup);
  }
  rmSync(`${dbPath}-wal`, { force: true });
  rmSync(`${dbPath}-shm`, { force: true });
  renameSync(tempPath, dbPath);
  const dirFd = openSync(dirname(dbPath), "r");
  try {
    fsyncSync(dirFd);
  } finally {
    closeSync(dirFd);
  }
  return { restoredVersion };
}
