import type Database from "better-sqlite3";

/** What a migration may need besides the connection; injected so tests control it. */
export interface MigrationContext {
  /** The run's timestamp in storage format, from the injected clock. */
  readonly now: string;
}

/**
 * A numbered, named, forward-only schema change. The runner calls `up` inside one transaction
 * together with the `schema_migrations` insert, so DDL, any JS backfill and the record commit or
 * roll back together.
 */
export interface Migration {
  readonly version: number;
  /** snake_case; recorded in `schema_migrations.name` and checked on every open. */
  readonly name: string;
  readonly up: (db: Database.Database, context: MigrationContext) => void;
}

export interface MigrationRef {
  readonly version: number;
  readonly name: string;
}
