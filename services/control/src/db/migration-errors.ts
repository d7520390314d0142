import type { MigrationRef } from "./migration.js";

export type SchemaRefusalKind =
  /** A version/name pair from a later release of the original Go AgentLab (its 4–19). */
  | "original-later-release"
  /** A version above the newest this binary knows. */
  | "newer-than-binary"
  /** A version inside our range that this binary has never had. */
  | "unknown-version"
  /** A known version recorded under another name. */
  | "name-mismatch";

/** The database's recorded schema is not one this binary can open or upgrade. Nothing was changed. */
export class SchemaRefusedError extends Error {
  override readonly name = "SchemaRefusedError";
  constructor(
    readonly kind: SchemaRefusalKind,
    readonly found: MigrationRef,
    readonly latestKnown: number,
    message: string,
  ) {
    super(message);
  }
}

/** Not enough free space for the backup and the migration's rewrite. Nothing was changed. */
export class InsufficientDiskError extends Error {
  override readonly name = "InsufficientDiskError";
  constructor(
    readonly directory: string,
    readonly freeBytes: number,
    readonly requiredBytes: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * A migration failed: its transaction rolled back, so the database is at `currentVersion` (every
 * earlier migration of this run committed). Carries the backup taken before the run and the text
 * an operator follows to restore it.
 */
export class MigrationError extends Error {
  override readonly name = "MigrationError";
  constructor(
    readonly migration: MigrationRef,
    readonly currentVersion: number,
    readonly backupPath: string | undefined,
    readonly restoreProcedure: string,
    cause: unknown,
  ) {
    super(
      `migration ${migration.version} ${migration.name} failed and was rolled back ` +
        `(database left at schema version ${currentVersion}): ${(cause as Error)?.message ?? String(cause)}\n` +
        (backupPath ? `Backup taken before this upgrade: ${backupPath}\n` : "") +
        restoreProcedure,
      { cause },
    );
  }
}

/** restoreDatabase refused; the live database was not touched. */
export class RestoreRefusedError extends Error {
  override readonly name = "RestoreRefusedError";
}
