import { existsSync, statSync } from "node:fs";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SchemaRefusedError } from "../../src/db/migration-errors.js";
import { migrate } from "../../src/db/migration-runner.js";
import { closeDatabase, openDatabase } from "../../src/db/open-database.js";
import { openMigratedDatabase } from "../../src/db/open-migrated-database.js";
import { countSandboxesByState, integrityCheck, schemaVersion } from "../../src/db/status-queries.js";
import { buildOriginalDatabase } from "./original-database-builder.js";
import { ampleDisk, makeFakeClock, makeTempDir } from "./temp-database-dir.js";

describe("openDatabase / closeDatabase", () => {
  let tmp: ReturnType<typeof makeTempDir>;
  beforeEach(() => {
    tmp = makeTempDir();
  });
  afterEach(() => tmp.remove());

  it("applies WAL, foreign keys, busy timeout and synchronous NORMAL", () => {
    const db = openDatabase(tmp.dbPath);
    expect(db.pragma("journal_mode", { simple: true })).toBe("wal");
    expect(db.pragma("foreign_keys", { simple: true })).toBe(1);
    expect(db.pragma("busy_timeout", { simple: true })).toBe(5000);
    expect(db.pragma("synchronous", { simple: true })).toBe(1);
    closeDatabase(db);
  });

  it("reuses a compiled statement per SQL text, each caller choosing its own result mode", () => {
    const db = openDatabase(tmp.dbPath);
    db.exec("CREATE TABLE t (a INTEGER, b TEXT); INSERT INTO t VALUES (1, 'one')");
    const sql = "SELECT a, b FROM t";
    expect(db.prepare(sql).pluck().get()).toBe(1);
    expect(db.prepare(sql)).toBe(db.prepare(sql));
    // The previous caller's pluck() does not leak into the next one.
    expect(db.prepare(sql).get()).toEqual({ a: 1, b: "one" });
    expect(db.prepare(sql).raw().get()).toEqual([1, "one"]);
    expect(db.prepare(sql).get()).toEqual({ a: 1, b: "one" });
    // A schema change is picked up by the cached statement.
    expect(db.prepare("SELECT * FROM t").get()).toEqual({ a: 1, b: "one" });
    db.exec("ALTER TABLE t ADD COLUMN c TEXT DEFAULT 'x'");
    expect(db.prepare("SELECT * FROM t").get()).toEqual({ a: 1, b: "one", c: "x" });
    closeDatabase(db);
  });

  it("checkpoints the WAL on close: no -wal file is left, or it is empty", async () => {
    const db = openDatabase(tmp.dbPath);
    await migrate(db, { dbPath: tmp.dbPath, clock: makeFakeClock("2025-03-01T00:00:00Z").clock, freeBytes: ampleDisk });
    db.prepare("INSERT INTO events (ts, kind, msg) VALUES ('2025-03-01T00:00:00.000Z', 'x', 'y')").run();
    expect(statSync(`${tmp.dbPath}-wal`).size).toBeGreaterThan(0);
    closeDatabase(db);
    expect(!existsSync(`${tmp.dbPath}-wal`) || statSync(`${tmp.dbPath}-wal`).size === 0).toBe(true);
    closeDatabase(db); // idempotent
  });

  it("read-only open refuses a missing file with the path in the message", () => {
    expect(() => openDatabase(`${tmp.dir}/missing.db`, { readonly: true })).toThrow(/missing\.db read-only/);
  });

  it("status helpers report counts by state, integrity and schema version", async () => {
    buildOriginalDatabase(tmp.dbPath, 3);
    const db = openDatabase(tmp.dbPath);
    expect(schemaVersion(db)).toBe(3);
    await migrate(db, { dbPath: tmp.dbPath, clock: makeFakeClock("2025-03-01T00:00:00Z").clock, freeBytes: ampleDisk });
    expect(countSandboxesByState(db)).toEqual({ DESTROYED: 2, READY: 1, RUNNING: 1, STOPPED: 1, TIMEOUT: 1 });
    expect(integrityCheck(db)).toEqual({ ok: true, messages: ["ok"] });
    expect(integrityCheck(db, { quick: true }).ok).toBe(true);
    db.pragma("foreign_keys = OFF");
    db.prepare(
      "INSERT INTO artifacts (job_id, name, path, size_bytes, sha256, created_at) VALUES ('job_missing', 'a', 'a', 1, 's', 'x')",
    ).run();
    const broken = integrityCheck(db);
    expect(broken.ok).toBe(false);
    expect(broken.messages[0]).toMatch(/foreign key violation: artifacts/);
    closeDatabase(db);
  });
});

describe("openMigratedDatabase", () => {
  let tmp: ReturnType<typeof makeTempDir>;
  beforeEach(() => {
    tmp = makeTempDir();
  });
  afterEach(() => tmp.remove());

  it("opens at the latest schema, and on refusal closes the connection before throwing", async () => {
    const clock = makeFakeClock("2025-03-01T00:00:00Z").clock;
    const { db, migration } = await openMigratedDatabase({ dbPath: tmp.dbPath, clock, freeBytes: ampleDisk });
    expect(migration.to).toBe(schemaVersion(db));
    db.prepare("INSERT INTO schema_migrations VALUES (999, 'from_the_future', '2025-01-01T00:00:00.000Z')").run();
    closeDatabase(db);
    await expect(openMigratedDatabase({ dbPath: tmp.dbPath, clock, freeBytes: ampleDisk })).rejects.toThrow(
      SchemaRefusedError,
    );
    expect(!existsSync(`${tmp.dbPath}-wal`) || statSync(`${tmp.dbPath}-wal`).size === 0).toBe(true);
  });
});
