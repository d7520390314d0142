import Database from "better-sqlite3";

export interface OpenDatabaseOptions {
  /** Open without write access (status tools, restore verification). The file must exist. */
  readonly readonly?: boolean;
}

export type SqliteDatabase = Database.Database;

/**
 * Opens control's database with the settings every connection needs: WAL (readers never block the
 * one writer), foreign keys enforced (SQLite's default is off, per connection), a 5 s busy timeout
 * for the rare second connection (backup, CLI inspection), and synchronous=NORMAL, which in WAL
 * mode loses at most the last transactions on power loss and never corrupts.
 */
export function openDatabase(path: string, options: OpenDatabaseOptions = {}): SqliteDatabase {
  const readonly = options.readonly === true;
  let db: SqliteDatabase;
  try {
    db = new Database(path, { readonly, fileMustExist: readonly, timeout: 5000 });
  } catch (error) {
    throw new Error(
      `openDatabase: cannot open ${path}${readonly ? " read-only" : ""}: ${(error as Error).message}; ` +
        "check that the directory exists and is writable by the service user",
      { cause: error },
    );
  }
  try {
    if (!readonly) {
      const mode = db.pragma("journal_mode = WAL", { simple: true });
      if (mode !== "wal" && path !== ":memory:") {
        throw new Error(
          `openDatabase: ${path} refused WAL mode (journal_mode is ${String(mode)}); use a local filesystem`,
        );
      }
    }
    db.pragma("foreign_keys = ON");
    db.pragma("busy_timeout = 5000");
    db.pragma("synchronous = NORMAL");
  } catch (error) {
    db.close();
    throw error;
  }
  cachePreparedStatements(db);
  return db;
}

/** Distinct SQL texts kept prepared; the stores use a few dozen, filtered listings add variants. */
const STATEMENT_CACHE_LIMIT = 256;

/**
 * Makes `db.prepare(sql)` return the same compiled statement for the same text. Compiling is the
 * largest single cost of a store call (≈ 5 % of control's CPU per sandbox lifecycle, bench:lifecycle),
 * and every store prepares at the call site, which keeps the SQL next to the code that needs it.
 * A reused statement has its result mode reset (pluck/expand/raw off), so each caller's own
 * `.pluck()` is what applies; SQLite re-compiles a cached statement itself after a schema change.
 * Control never iterates a statement lazily, the one use a shared statement could not serve.
 */
function cachePreparedStatements(db: SqliteDatabase): void {
  const compile = db.prepare.bind(db);
  const cache = new Map<string, Database.Statement>();
  db.prepare = ((sql: string) => {
    const cached = cache.get(sql);
    if (cached) {
      if (cached.reader) cached.raw(false).pluck(false).expand(false);
      return cached;
    }
    const statement = compile(sql);
    if (cache.size < STATEMENT_CACHE_LIMIT) cache.set(sql, statement);
    return statement;
  }) as SqliteDatabase["prepare"];
}

/**
 * Clean shutdown: fold the WAL back into the database file and truncate it, so a copy of the
 * `.db` file alone (what the upgrade guide tells operators to take) is complete.
 */
export function closeDatabase(db: SqliteDatabase): void {
  if (!db.open) return;
  if (!db.readonly && !db.memory) db.pragma("wal_checkpoint(TRUNCATE)");
  db.close();
}
