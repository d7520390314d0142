import { existsSync, mkdirSync, statSync } from "node:fs";
import { dirname } from "node:path";
import { BACKUP_RETENTION_MS, preMigrationBackupPath, prunePreMigrationBackups } from "./backup-retention.js";
import { freeBytesInDirectory } from "./free-disk.js";
import type { Migration, MigrationRef } from "./migration.js";
import { InsufficientDiskError, MigrationError } from "./migration-errors.js";
import { planMigrations } from "./migration-plan.js";
import { MIGRATIONS } from "./migrations/migration-list.js";
import { backupConnection } from "./online-backup.js";
import type { SqliteDatabase } from "./open-database.js";
import { restoreProcedure } from "./restore-procedure.js";
import { type Clock, formatTimestamp } from "./timestamps.js";

/** Headroom beyond twice the database size: the backup plus rewritten pages in the WAL. */
export const MIGRATION_DISK_HEADROOM_BYTES = 64 * 1024 * 1024;

export interface MigrateOptions {
  /** The database file `db` was opened from; backups go next to it. */
  readonly dbPath: string;
  /** Where the pre-migration backup goes; defaults to the database's directory. */
  readonly backupDir?: string;
  readonly clock: Clock;
  /** Free-disk probe, injected so tests can simulate a full disk. */
  readonly freeBytes?: (dir: string) => number;
  /**
   * false skips the pre-migration backup (benchmarks, throwaway copies). Production never passes
   * it: the backup is the only way back from a forward-only schema.
   */
  readonly takeBackup?: boolean;
  /** List pending migrations and change nothing: no backup, no table, no prune. */
  readonly dryRun?: boolean;
  /** Defaults to this binary's list; tests inject failing migrations. */
  readonly migrations?: readonly Migration[];
  readonly backupRetentionMs?: number;
  /** Where operator-facing lines go (the backup path, each applied migration). */
  readonly log?: (line: string) => void;
}

export interface MigrateResult {
  readonly from: number;
  readonly to: number;
  readonly pending: readonly MigrationRef[];
  readonly applied: readonly MigrationRef[];
  readonly backupPath?: string;
  readonly prunedBackups: readonly string[];
}

function fileSize(path: string): number {
  return existsSync(path) ? statSync(path).size : 0;
}

function ensureSchemaMigrationsTable(db: SqliteDatabase): void {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at TEXT NOT NULL
  )`);
}

function checkFreeDisk(dbPath: string, backupDir: string, freeBytes: (dir: string) => number): void {
  const databaseBytes = fileSize(dbPath) + fileSize(`${dbPath}-wal`);
  const requiredBytes = 2 * databaseBytes + MIGRATION_DISK_HEADROOM_BYTES;
  const available = freeBytes(backupDir);
  if (available < requiredBytes) {
    throw new InsufficientDiskError(
      backupDir,
      available,
      requiredBytes,
      `not enough free disk to upgrade ${dbPath}: ${available} bytes free in ${backupDir}, ${requiredBytes} needed ` +
        `(2 × database size ${databaseBytes} + ${MIGRATION_DISK_HEADROOM_BYTES} headroom). Free space there ` +
        "(old backups, logs) and start again; nothing was changed.",
    );
  }
}

/**
 * Brings the database to this binary's newest schema. Refuses (SchemaRefusedError) a schema it does
 * not know; checks free disk; takes an online backup of a non-empty database and prunes old ones;
 * then applies each pending migration in its own transaction together with its `schema_migrations`
 * row. A failure rolls that migration back and throws MigrationError with the backup path and the
 * restore procedure.
 */
export async function migrate(db: SqliteDatabase, options: MigrateOptions): Promise<MigrateResult> {
  const migrations = options.migrations ?? MIGRATIONS;
  const log = options.log ?? (() => {});
  const plan = planMigrations(db, migrations);
  const idle = { from: plan.current, to: plan.current, pending: plan.pending, applied: [], prunedBackups: [] };
  if (plan.pending.length === 0 || options.dryRun) return idle;

  const backupDir = options.backupDir ?? dirname(options.dbPath);
  const now = options.clock();
  checkFreeDisk(options.dbPath, backupDir, options.freeBytes ?? freeBytesInDirectory);

  // A database with no recorded migration holds nothing to lose; every other one is backed up.
  let backupPath: string | undefined;
  let prunedBackups: string[] = [];
  if (plan.current > 0 && options.takeBackup !== false) {
    mkdirSync(backupDir, { recursive: true });
    backupPath = (await backupConnection(db, preMigrationBackupPath(options.dbPath, backupDir, now, plan.current)))
      .path;
    log(`database backup before migrating from schema version ${plan.current}: ${backupPath}`);
    prunedBackups = prunePreMigrationBackups(
      options.dbPath,
      backupDir,
      now,
      options.backupRetentionMs ?? BACKUP_RETENTION_MS,
    );
    for (const path of prunedBackups) log(`removed backup older than the retention window: ${path}`);
  }

  ensureSchemaMigrationsTable(db);
  const record = db.prepare(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`);
  const applied: MigrationRef[] = [];
  let current = plan.current;
  const pendingVersions = new Set(plan.pending.map((p) => p.version));
  for (const migration of migrations) {
    if (!pendingVersions.has(migration.version)) continue;
    const appliedAt = formatTimestamp(options.clock());
    try {
      db.transaction(() => {
        migration.up(db, { now: appliedAt });
        record.run(migration.version, migration.name, appliedAt);
      }).immediate();
    } catch (error) {
      throw new MigrationError(
        { version: migration.version, name: migration.name },
        current,
        backupPath,
        restoreProcedure(options.dbPath, backupPath),
        error,
      );
    }
    current = migration.version;
    applied.push({ version: migration.version, name: migration.name });
    log(`applied migration ${migration.version} ${migration.name}`);
  }
  return { from: plan.current, to: current, pending: plan.pending, applied, backupPath, prunedBackups };
}
