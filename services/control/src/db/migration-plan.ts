import type { Migration, MigrationRef } from "./migration.js";
import { SchemaRefusedError } from "./migration-errors.js";
import { MIGRATIONS } from "./migrations/migration-list.js";
import type { SqliteDatabase } from "./open-database.js";
import { isOriginalLaterMigration, LAST_SHARED_ORIGINAL_VERSION } from "./original-later-migrations.js";
import { restoreProcedure } from "./restore-procedure.js";

export interface MigrationPlan {
  /** Highest recorded version; 0 for an empty database. */
  readonly current: number;
  readonly pending: readonly MigrationRef[];
  readonly latestKnown: number;
}

const SNAKE_CASE = /^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$/;

/** Guards against a programming error in the list itself (tests inject their own lists). */
export function validateMigrationList(migrations: readonly Migration[]): void {
  let previous = 0;
  for (const m of migrations) {
    if (!Number.isInteger(m.version) || m.version <= previous) {
      throw new Error(`migration list: version ${m.version} (${m.name}) must be an integer above ${previous}`);
    }
    if (!SNAKE_CASE.test(m.name)) {
      throw new Error(`migration list: version ${m.version} has name ${JSON.stringify(m.name)}; use snake_case`);
    }
    previous = m.version;
  }
}

/** The `schema_migrations` rows, or none when the table does not exist yet (fresh database). */
export function readRecordedMigrations(db: SqliteDatabase): MigrationRef[] {
  const table = db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'`).get();
  if (table === undefined) return [];
  return db.prepare(`SELECT version, name FROM schema_migrations ORDER BY version`).all() as MigrationRef[];
}

/**
 * Checks every recorded (version, name) pair against the binary's list and refuses, naming the
 * pair, anything this binary cannot safely run on. Nothing is written.
 */
export function checkRecordedMigrations(
  db: SqliteDatabase,
  recorded: readonly MigrationRef[],
  migrations: readonly Migration[],
): void {
  const latestKnown = migrations.at(-1)?.version ?? 0;
  const dbPath = db.name;
  // Original-release pairs first: such a database is likely to also hold later versions that would
  // otherwise be reported as merely "newer", which sends the operator looking for a release of ours.
  const original = recorded.filter((r) => isOriginalLaterMigration(r.version, r.name));
  if (original.length > 0) {
    const newest = original.at(-1)!;
    throw new SchemaRefusedError(
      "original-later-release",
      newest,
      latestKnown,
      `database ${dbPath} records migration ${newest.version} ${newest.name}: it was written by a later release ` +
        `of the original Go AgentLab, whose schema this version cannot upgrade (only the original's versions ` +
        `1–${LAST_SHARED_ORIGINAL_VERSION} upgrade in place). Restore a backup taken at schema version ` +
        `${LAST_SHARED_ORIGINAL_VERSION} or lower (check with: sqlite3 <backup> "SELECT MAX(version) FROM ` +
        `schema_migrations"), or keep running the original release.\n${restoreProcedure(dbPath)}`,
    );
  }
  const byVersion = new Map(migrations.map((m) => [m.version, m]));
  for (const r of recorded) {
    const known = byVersion.get(r.version);
    if (known === undefined && r.version > latestKnown) {
      throw new SchemaRefusedError(
        "newer-than-binary",
        r,
        latestKnown,
        `database ${dbPath} is at schema version ${r.version} (${r.name}), newer than this binary knows ` +
          `(newest known: ${latestKnown}). Schemas only move forward: install the release that wrote it, or ` +
          `restore a backup taken at version ${latestKnown} or lower.\n${restoreProcedure(dbPath)}`,
      );
    }
    if (known === undefined) {
      throw new SchemaRefusedError(
        "unknown-version",
        r,
        latestKnown,
        `database ${dbPath} records migration ${r.version} ${r.name}, which this binary has never had ` +
          `(known versions 1–${latestKnown}); the schema was changed by another tool. Restore a backup ` +
          `taken before that change.\n${restoreProcedure(dbPath)}`,
      );
    }
    if (known.name !== r.name) {
      throw new SchemaRefusedError(
        "name-mismatch",
        r,
        latestKnown,
        `database ${dbPath} records migration ${r.version} as ${JSON.stringify(r.name)}, but in this binary ` +
          `version ${r.version} is ${JSON.stringify(known.name)}: the schema came from a different code line. ` +
          `Restore a backup taken by this release line.\n${restoreProcedure(dbPath)}`,
      );
    }
  }
}

/** What `migrate` would do; refuses (SchemaRefusedError) exactly when `migrate` would. */
export function planMigrations(db: SqliteDatabase, migrations: readonly Migration[] = MIGRATIONS): MigrationPlan {
  validateMigrationList(migrations);
  const recorded = readRecordedMigrations(db);
  checkRecordedMigrations(db, recorded, migrations);
  const applied = new Set(recorded.map((r) => r.version));
  return {
    current: recorded.reduce((max, r) => Math.max(max, r.version), 0),
    pending: migrations.filter((m) => !applied.has(m.version)).map((m) => ({ version: m.version, name: m.name })),
    latestKnown: migrations.at(-1)?.version ?? 0,
  };
}

/** The highest recorded schema version (0 when none): for GetStatus and the CLI. */
export function schemaVersion(db: SqliteDatabase): number {
  return readRecordedMigrations(db).reduce((max, r) => Math.max(max, r.version), 0);
}
