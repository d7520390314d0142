import { type MigrateOptions, type MigrateResult, migrate } from "./migration-runner.js";
import { closeDatabase, openDatabase, type SqliteDatabase } from "./open-database.js";

/**
 * What control's start does: open, check every recorded migration, back up and apply what is
 * pending. On any refusal or failure the connection is closed before the error propagates, so the
 * caller exits non-zero with the error's text (backup path and restore procedure included).
 */
export async function openMigratedDatabase(
  options: Omit<MigrateOptions, "dryRun">,
): Promise<{ db: SqliteDatabase; migration: MigrateResult }> {
  const db = openDatabase(options.dbPath);
  try {
    return { db, migration: await migrate(db, options) };
  } catch (error) {
    closeDatabase(db);
    throw error;
  }
}
