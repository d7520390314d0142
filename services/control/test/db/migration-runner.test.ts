import { existsSync, readdirSync } from "node:fs";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Migration } from "../../src/db/migration.js";
import { InsufficientDiskError, MigrationError } from "../../src/db/migration-errors.js";
import { planMigrations, schemaVersion } from "../../src/db/migration-plan.js";
import { migrate } from "../../src/db/migration-runner.js";
import { MIGRATIONS } from "../../src/db/migrations/migration-list.js";
import { closeDatabase, openDatabase } from "../../src/db/open-database.js";
import { schemaShape, snapshotDatabase } from "./database-snapshot.js";
import { buildOriginalDatabase } from "./original-database-builder.js";
import { ampleDisk, makeFakeClock, makeTempDir } from "./temp-database-dir.js";

const LATEST = MIGRATIONS.at(-1)!.version;

describe("migration runner", () => {
  let tmp: ReturnType<typeof makeTempDir>;
  const fake = makeFakeClock("2025-03-01T12:00:00.000Z");
  beforeEach(() => {
    tmp = makeTempDir();
  });
  afterEach(() => tmp.remove());

  it("takes a fresh database to the latest version, without a backup", async () => {
    const db = openDatabase(tmp.dbPath);
    expect(planMigrations(db)).toEqual({
      current: 0,
      pending: MIGRATIONS.map((m) => ({ version: m.version, name: m.name })),
      latestKnown: LATEST,
    });
    const result = await migrate(db, { dbPath: tmp.dbPath, clock: fake.clock, freeBytes: ampleDisk });
    expect(result.applied.map((m) => m.version)).toEqual(MIGRATIONS.map((m) => m.version));
    expect(result.backupPath).toBeUndefined();
    expect(schemaVersion(db)).toBe(LATEST);
    const recorded = db.prepare("SELECT version, name, applied_at FROM schema_migrations ORDER BY version").all();
    expect(recorded[0]).toEqual({ version: 1, name: "init_core_tables", applied_at: "2025-03-01T12:00:00.000Z" });
    expect(planMigrations(db).pending).toEqual([]);
    // A second run is a no-op.
    expect((await migrate(db, { dbPath: tmp.dbPath, clock: fake.clock, freeBytes: ampleDisk })).applied).toEqual([]);
    closeDatabase(db);
  });

  it("upgrades from every earlier version of ours to the same schema as a fresh database", async () => {
    const fresh = openDatabase(tmp.dbPath);
    await migrate(fresh, { dbPath: tmp.dbPath, clock: fake.clock, freeBytes: ampleDisk });
    const expected = schemaShape(fresh);
    closeDatabase(fresh);
    for (let stop = 1; stop < MIGRATIONS.length; stop++) {
      const path = `${tmp.dir}/stop-${stop}.db`;
      const db = openDatabase(path);
      await migrate(db, {
        dbPath: path,
        clock: fake.clock,
        freeBytes: ampleDisk,
        migrations: MIGRATIONS.slice(0, stop),
      });
      expect(schemaVersion(db)).toBe(MIGRATIONS[stop - 1]!.version);
      const result = await migrate(db, { dbPath: path, clock: fake.clock, freeBytes: ampleDisk });
      expect(result.from).toBe(MIGRATIONS[stop - 1]!.version);
      expect(result.to).toBe(LATEST);
      expect(result.backupPath).toMatch(new RegExp(`stop-${stop}\\.db\\.backup-20250301T120000Z-v${stop}$`));
      expect(existsSync(result.backupPath!)).toBe(true);
      expect(schemaShape(db)).toEqual(expected);
      closeDatabase(db);
    }
  });

  it("dry run lists pending migrations and touches nothing", async () => {
    buildOriginalDatabase(tmp.dbPath, 2);
    const db = openDatabase(tmp.dbPath);
    const before = snapshotDatabase(db);
    const result = await migrate(db, { dbPath: tmp.dbPath, clock: fake.clock, freeBytes: ampleDisk, dryRun: true });
    expect(result.pending.map((p) => p.version)).toEqual(MIGRATIONS.slice(2).map((m) => m.version));
    expect(result.applied).toEqual([]);
    expect(snapshotDatabase(db)).toEqual(before);
    expect(readdirSync(tmp.dir).filter((f) => f.includes(".backup-"))).toEqual([]);
    closeDatabase(db);
  });

  it("rolls a failing migration back, leaving the database row for row as it was, and says how to restore", async () => {
    buildOriginalDatabase(tmp.dbPath, 3);
    const failing: Migration = {
      version: 4,
      name: "explodes_halfway",
      up(db) {
        db.exec("ALTER TABLE sandboxes ADD COLUMN doomed TEXT; UPDATE sandboxes SET name = 'changed'");
        throw new Error("injected failure");
      },
    };
    const db = openDatabase(tmp.dbPath);
    const before = snapshotDatabase(db);
    const error = await migrate(db, {
      dbPath: tmp.dbPath,
      clock: fake.clock,
      freeBytes: ampleDisk,
      migrations: [...MIGRATIONS.slice(0, 3), failing],
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MigrationError);
    const failure = error as MigrationError;
    expect(failure.migration).toEqual({ version: 4, name: "explodes_halfway" });
    expect(failure.currentVersion).toBe(3);
    expect(failure.backupPath).toBe(`${tmp.dbPath}.backup-20250301T120000Z-v3`);
    expect(existsSync(failure.backupPath!)).toBe(true);
    expect(failure.message).toContain("migration 4 explodes_halfway failed");
    expect(failure.message).toContain("injected failure");
    expect(failure.restoreProcedure).toContain("systemctl stop");
    expect(failure.restoreProcedure).toContain(`cp '${failure.backupPath}' '${tmp.dbPath}'`);
    expect(failure.restoreProcedure).toContain(`rm -f '${tmp.dbPath}-wal' '${tmp.dbPath}-shm'`);
    expect(snapshotDatabase(db)).toEqual(before);
    closeDatabase(db);
    // And the backup holds the same rows.
    const backup = openDatabase(failure.backupPath!, { readonly: true });
    expect(snapshotDatabase(backup)).toEqual(before);
    closeDatabase(backup);
  });

  it("keeps earlier migrations of the run when a later one fails, and reports the version reached", async () => {
    const db = openDatabase(tmp.dbPath);
    await migrate(db, {
      dbPath: tmp.dbPath,
      clock: fake.clock,
      freeBytes: ampleDisk,
      migrations: MIGRATIONS.slice(0, 3),
    });
    const failing: Migration = {
      version: 5,
      name: "fails_after_one",
      up() {
        throw new Error("boom");
      },
    };
    const error = (await migrate(db, {
      dbPath: tmp.dbPath,
      clock: fake.clock,
      freeBytes: ampleDisk,
      migrations: [...MIGRATIONS.slice(0, 4), failing],
    }).catch((e: unknown) => e)) as MigrationError;
    expect(error).toBeInstanceOf(MigrationError);
    expect(error.currentVersion).toBe(4);
    expect(schemaVersion(db)).toBe(4);
    closeDatabase(db);
  });

  it("refuses with the numbers when free disk is short, changing nothing", async () => {
    buildOriginalDatabase(tmp.dbPath, 3);
    const db = openDatabase(tmp.dbPath);
    const before = snapshotDatabase(db);
    const error = await migrate(db, { dbPath: tmp.dbPath, clock: fake.clock, freeBytes: () => 1000 }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(InsufficientDiskError);
    expect((error as InsufficientDiskError).freeBytes).toBe(1000);
    expect((error as Error).message).toMatch(/1000 bytes free in .*, \d+ needed/);
    expect(snapshotDatabase(db)).toEqual(before);
    expect(readdirSync(tmp.dir).filter((f) => f.includes(".backup-"))).toEqual([]);
    closeDatabase(db);
  });
});
