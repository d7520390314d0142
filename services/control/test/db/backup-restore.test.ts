import { existsSync, readdirSync, writeFileSync } from "node:fs";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { listPreMigrationBackups, prunePreMigrationBackups } from "../../src/db/backup-retention.js";
import { RestoreRefusedError } from "../../src/db/migration-errors.js";
import { migrate } from "../../src/db/migration-runner.js";
import { backupDatabase } from "../../src/db/online-backup.js";
import { closeDatabase, openDatabase } from "../../src/db/open-database.js";
import { restoreDatabase } from "../../src/db/restore-database.js";
import { integrityCheck, schemaVersion } from "../../src/db/status-queries.js";
import { snapshotDatabase } from "./database-snapshot.js";
import { buildOriginalDatabase } from "./original-database-builder.js";
import { ampleDisk, makeFakeClock, makeTempDir } from "./temp-database-dir.js";

const notRunning = async (): Promise<boolean> => false;

describe("backup and restore", () => {
  let tmp: ReturnType<typeof makeTempDir>;
  beforeEach(() => {
    tmp = makeTempDir();
  });
  afterEach(() => tmp.remove());

  async function migratedDatabase(): Promise<void> {
    buildOriginalDatabase(tmp.dbPath, 3);
    const db = openDatabase(tmp.dbPath);
    await migrate(db, { dbPath: tmp.dbPath, clock: makeFakeClock("2025-03-01T00:00:00Z").clock, freeBytes: ampleDisk });
    closeDatabase(db);
  }

  it("round-trips: backup, change, restore gives back the backed-up rows and drops stale WAL files", async () => {
    await migratedDatabase();
    const db = openDatabase(tmp.dbPath);
    const before = snapshotDatabase(db);
    const backupPath = `${tmp.dir}/manual.backup`;
    const result = await backupDatabase(tmp.dbPath, backupPath);
    expect(result.bytes).toBeGreaterThan(0);
    db.prepare("DELETE FROM events").run();
    closeDatabase(db);
    writeFileSync(`${tmp.dbPath}-wal`, "stale");
    writeFileSync(`${tmp.dbPath}-shm`, "stale");

    const restored = await restoreDatabase({ from: backupPath, dbPath: tmp.dbPath, isServiceRunning: notRunning });
    expect(restored.restoredVersion).toBe(schemaVersion(openDatabase(backupPath, { readonly: true })));
    expect(existsSync(`${tmp.dbPath}-wal`)).toBe(false);
    expect(existsSync(`${tmp.dbPath}-shm`)).toBe(false);
    const reopened = openDatabase(tmp.dbPath);
    expect(snapshotDatabase(reopened)).toEqual(before);
    expect(integrityCheck(reopened).ok).toBe(true);
    closeDatabase(reopened);
    expect(readdirSync(tmp.dir).filter((f) => f.includes(".restore-") || f.includes(".partial-"))).toEqual([]);
  });

  it("takes a consistent backup while another connection keeps writing", async () => {
    await migratedDatabase();
    const writer = openDatabase(tmp.dbPath);
    writer.exec("CREATE TABLE pairs (id INTEGER PRIMARY KEY, half INTEGER NOT NULL)");
    // Enough rows that the copy takes many steps, so the writer's transactions land mid-backup.
    const insertPair = writer.transaction((n: number) => {
      writer.prepare("INSERT INTO pairs (half) VALUES (?)").run(n);
      writer.prepare("INSERT INTO pairs (half) VALUES (?)").run(n);
    });
    const filler = writer.prepare("INSERT INTO events (ts, kind, msg) VALUES ('2025-03-01T00:00:00.000Z', 'fill', ?)");
    writer.transaction(() => {
      for (let i = 0; i < 20_000; i++) filler.run("x".repeat(200));
    })();
    let written = 0;
    let writing = true;
    const writeLoop = (async () => {
      while (writing && written < 200) {
        insertPair(written++);
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();
    const backupPath = `${tmp.dir}/live.backup`;
    const writtenBeforeBackup = written;
    await backupDatabase(tmp.dbPath, backupPath, { pagesPerStep: 16 });
    const writtenDuringBackup = written - writtenBeforeBackup;
    writing = false;
    await writeLoop;
    closeDatabase(writer);

    const copy = openDatabase(backupPath, { readonly: true });
    expect(integrityCheck(copy).ok).toBe(true);
    const rows = copy.prepare("SELECT COUNT(*) FROM pairs").pluck().get() as number;
    expect(rows % 2).toBe(0); // never half a transaction
    expect(copy.prepare("SELECT COUNT(*) FROM events WHERE kind = 'fill'").pluck().get()).toBe(20_000);
    closeDatabase(copy);
    expect(writtenDuringBackup).toBeGreaterThan(0);
  });

  it("refuses to restore while the service is running, leaving the database untouched", async () => {
    await migratedDatabase();
    const backupPath = `${tmp.dir}/b.backup`;
    await backupDatabase(tmp.dbPath, backupPath);
    const error = await restoreDatabase({
      from: backupPath,
      dbPath: tmp.dbPath,
      isServiceRunning: async () => true,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RestoreRefusedError);
    expect((error as Error).message).toMatch(/while AgentLab is running; stop it first/);
  });

  it("refuses a file that is not a SQLite database, and one with an unknown schema", async () => {
    await migratedDatabase();
    const garbage = `${tmp.dir}/garbage.backup`;
    writeFileSync(garbage, "this is not sqlite".repeat(100));
    await expect(restoreDatabase({ from: garbage, dbPath: tmp.dbPath, isServiceRunning: notRunning })).rejects.toThrow(
      RestoreRefusedError,
    );
    const foreign = `${tmp.dir}/foreign.backup`;
    await backupDatabase(tmp.dbPath, foreign);
    const edit = openDatabase(foreign);
    edit.prepare("INSERT INTO schema_migrations VALUES (99, 'from_the_future', '2025-01-01T00:00:00.000Z')").run();
    closeDatabase(edit);
    await expect(restoreDatabase({ from: foreign, dbPath: tmp.dbPath, isServiceRunning: notRunning })).rejects.toThrow(
      /schema this version cannot run.*99/s,
    );
    const db = openDatabase(tmp.dbPath);
    expect(integrityCheck(db).ok).toBe(true);
    closeDatabase(db);
  });

  it("prunes pre-migration backups older than 7 days but never the newest", async () => {
    const fake = makeFakeClock("2025-03-01T00:00:00Z");
    buildOriginalDatabase(tmp.dbPath, 1);
    const db = openDatabase(tmp.dbPath);
    // Three upgrade runs, 5 days apart: each takes a backup of the version it starts from.
    const { MIGRATIONS } = await import("../../src/db/migrations/migration-list.js");
    for (const stop of [2, 3, 4]) {
      await migrate(db, {
        dbPath: tmp.dbPath,
        clock: fake.clock,
        freeBytes: ampleDisk,
        migrations: MIGRATIONS.slice(0, stop),
      });
      fake.advanceMs(5 * 24 * 3600 * 1000);
    }
    closeDatabase(db);
    const names = listPreMigrationBackups(tmp.dbPath, tmp.dir).map((b) => b.path.slice(tmp.dir.length + 1));
    // The run at day 10 pruned the day-0 backup (10 days old); day 5 is exactly 5 days old.
    expect(names).toEqual(["agentlab.db.backup-20250306T000000Z-v2", "agentlab.db.backup-20250311T000000Z-v3"]);
    // Much later, only the newest survives.
    fake.advanceMs(60 * 24 * 3600 * 1000);
    const pruned = prunePreMigrationBackups(tmp.dbPath, tmp.dir, fake.clock());
    expect(pruned.map((p) => p.slice(tmp.dir.length + 1))).toEqual(["agentlab.db.backup-20250306T000000Z-v2"]);
    expect(listPreMigrationBackups(tmp.dbPath, tmp.dir).map((b) => b.fromVersion)).toEqual([3]);
  });
});
