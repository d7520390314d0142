import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SchemaRefusedError } from "../../src/db/migration-errors.js";
import { planMigrations } from "../../src/db/migration-plan.js";
import { migrate } from "../../src/db/migration-runner.js";
import { MIGRATIONS } from "../../src/db/migrations/migration-list.js";
import { closeDatabase, openDatabase } from "../../src/db/open-database.js";
import { snapshotDatabase } from "./database-snapshot.js";
import { buildOriginalDatabase } from "./original-database-builder.js";
import { ampleDisk, makeFakeClock, makeTempDir } from "./temp-database-dir.js";

const LATEST = MIGRATIONS.at(-1)!.version;

describe("schemas this binary refuses", () => {
  let tmp: ReturnType<typeof makeTempDir>;
  const fake = makeFakeClock("2025-03-01T12:00:00.000Z");
  beforeEach(() => {
    tmp = makeTempDir();
  });
  afterEach(() => tmp.remove());

  function record(rows: [number, string][]): void {
    const raw = new Database(tmp.dbPath);
    const insert = raw.prepare(
      "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, '2025-02-10T00:00:00Z')",
    );
    for (const [version, name] of rows) insert.run(version, name);
    raw.close();
  }

  async function refusal(): Promise<SchemaRefusedError> {
    const db = openDatabase(tmp.dbPath);
    const before = snapshotDatabase(db);
    expect(() => planMigrations(db)).toThrow(SchemaRefusedError);
    const error = await migrate(db, { dbPath: tmp.dbPath, clock: fake.clock, freeBytes: ampleDisk }).catch(
      (e: unknown) => e,
    );
    expect(snapshotDatabase(db)).toEqual(before);
    closeDatabase(db);
    expect(error).toBeInstanceOf(SchemaRefusedError);
    return error as SchemaRefusedError;
  }

  it("refuses a database from a later release of the original Go AgentLab", async () => {
    buildOriginalDatabase(tmp.dbPath, 3);
    record([
      [4, "add_sandbox_last_used_at"],
      [5, "add_exposures"],
    ]);
    const error = await refusal();
    expect(error.kind).toBe("original-later-release");
    expect(error.message).toContain("migration 5 add_exposures");
    expect(error.message).toContain("later release of the original Go AgentLab");
    expect(error.message).toContain("Restore a backup taken at schema version 3 or lower");
    expect(error.message).toContain("-wal");
  });

  it("refuses the original's version 19 by name even though it is above our newest version", async () => {
    buildOriginalDatabase(tmp.dbPath, 3);
    record([[19, "add_sandbox_secrets"]]);
    expect((await refusal()).kind).toBe("original-later-release");
  });

  it("refuses a schema newer than the binary, naming found and newest known versions", async () => {
    const db = openDatabase(tmp.dbPath);
    await migrate(db, { dbPath: tmp.dbPath, clock: fake.clock, freeBytes: ampleDisk });
    closeDatabase(db);
    record([[LATEST + 1, "from_the_future"]]);
    const error = await refusal();
    expect(error.kind).toBe("newer-than-binary");
    expect(error.found).toEqual({ version: LATEST + 1, name: "from_the_future" });
    expect(error.message).toContain(`schema version ${LATEST + 1} (from_the_future)`);
    expect(error.message).toContain(`newest known: ${LATEST}`);
    expect(error.message).toContain("sudo cp");
  });

  it("refuses a known version recorded under another name", async () => {
    const db = openDatabase(tmp.dbPath);
    await migrate(db, {
      dbPath: tmp.dbPath,
      clock: fake.clock,
      freeBytes: ampleDisk,
      migrations: MIGRATIONS.slice(0, 3),
    });
    closeDatabase(db);
    record([[4, "somebody_elses_change"]]);
    const error = await refusal();
    expect(error.kind).toBe("name-mismatch");
    expect(error.message).toContain('records migration 4 as "somebody_elses_change"');
    expect(error.message).toContain(`version 4 is "${MIGRATIONS[3]!.name}"`);
  });

  it("refuses an unknown version inside the known range", async () => {
    const db = openDatabase(tmp.dbPath);
    await migrate(db, { dbPath: tmp.dbPath, clock: fake.clock, freeBytes: ampleDisk });
    closeDatabase(db);
    const raw = new Database(tmp.dbPath);
    raw.prepare("DELETE FROM schema_migrations WHERE version = 2").run();
    raw.close();
    const list = MIGRATIONS.filter((m) => m.version !== 5);
    const opened = openDatabase(tmp.dbPath);
    const error = (() => {
      try {
        planMigrations(opened, list);
      } catch (e) {
        return e as SchemaRefusedError;
      }
    })();
    closeDatabase(opened);
    expect(error?.kind).toBe("unknown-version");
    expect(error?.message).toContain(`records migration 5 ${MIGRATIONS[4]!.name}`);
  });
});
