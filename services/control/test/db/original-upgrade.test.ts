import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { migrate } from "../../src/db/migration-runner.js";
import { MIGRATIONS } from "../../src/db/migrations/migration-list.js";
import { closeDatabase, openDatabase } from "../../src/db/open-database.js";
import { integrityCheck, schemaVersion } from "../../src/db/status-queries.js";
import { isFixedWidthTimestamp } from "../../src/db/timestamps.js";
import { schemaShape, tableColumns } from "./database-snapshot.js";
import { buildOriginalDatabase, type OriginalLevel } from "./original-database-builder.js";
import { ampleDisk, makeFakeClock, makeTempDir } from "./temp-database-dir.js";

const LATEST = MIGRATIONS.at(-1)!.version;
const TABLES_AT: Record<OriginalLevel, string[]> = {
  1: ["sandboxes", "jobs", "profiles", "workspaces", "bootstrap_tokens", "events"],
  2: ["sandboxes", "jobs", "profiles", "workspaces", "bootstrap_tokens", "events"],
  3: ["sandboxes", "jobs", "profiles", "workspaces", "bootstrap_tokens", "events", "artifact_tokens", "artifacts"],
};

function counts(db: Database.Database, tables: string[]): Record<string, number> {
  return Object.fromEntries(
    tables.map((t) => [t, (db.prepare(`SELECT COUNT(*) AS n FROM ${t}`).get() as { n: number }).n]),
  );
}

describe("upgrading a database written by the original Go AgentLab", () => {
  let tmp: ReturnType<typeof makeTempDir>;
  const fake = makeFakeClock("2025-03-01T12:00:00.000Z");
  beforeEach(() => {
    tmp = makeTempDir();
  });
  afterEach(() => tmp.remove());

  it("our migrations 1-3 produce exactly the original's schema", async () => {
    const original = `${tmp.dir}/original.db`;
    buildOriginalDatabase(original, 3);
    const ours = openDatabase(tmp.dbPath);
    await migrate(ours, {
      dbPath: tmp.dbPath,
      clock: fake.clock,
      freeBytes: ampleDisk,
      migrations: MIGRATIONS.slice(0, 3),
    });
    const theirs = new Database(original, { readonly: true });
    expect(schemaShape(ours)).toEqual(schemaShape(theirs));
    theirs.close();
    closeDatabase(ours);
  });

  for (const level of [1, 2, 3] as const) {
    it(`upgrades an original version-${level} database in place, keeping every row`, async () => {
      buildOriginalDatabase(tmp.dbPath, level);
      const before = new Database(tmp.dbPath, { readonly: true });
      const countsBefore = counts(before, TABLES_AT[level]);
      const sandboxesBefore = before.prepare("SELECT * FROM sandboxes ORDER BY vmid").all() as Record<
        string,
        unknown
      >[];
      before.close();

      const db = openDatabase(tmp.dbPath);
      const result = await migrate(db, { dbPath: tmp.dbPath, clock: fake.clock, freeBytes: ampleDisk });
      expect(result.from).toBe(level);
      expect(schemaVersion(db)).toBe(LATEST);
      expect(result.backupPath).toBe(`${tmp.dbPath}.backup-20250301T120000Z-v${level}`);
      expect(integrityCheck(db).ok).toBe(true);

      // Every row kept; the only new events are the dedupe's rename records.
      const after = counts(db, TABLES_AT[level]);
      expect({ ...after, events: after.events! - 1 }).toEqual(countsBefore);
      // Original applied_at values normalised too.
      expect(
        db.prepare(`SELECT version, name, applied_at FROM schema_migrations WHERE version <= ${level}`).all(),
      ).toEqual(
        [
          { version: 1, name: "init_core_tables", applied_at: "2025-01-15T10:00:00.123Z" },
          { version: 2, name: "add_job_spec_fields", applied_at: "2025-01-20T15:30:00.000Z" },
          { version: 3, name: "add_artifacts", applied_at: "2025-02-01T09:15:00.500Z" },
        ].slice(0, level),
      );

      // Sampled rows: values carried over, timestamps fixed-width and truncated, offsets to UTC.
      const sandboxes = db.prepare("SELECT * FROM sandboxes ORDER BY vmid").all() as Record<string, unknown>[];
      expect(sandboxes.map((s) => s.vmid)).toEqual(sandboxesBefore.map((s) => s.vmid));
      const s1001 = sandboxes.find((s) => s.vmid === 1001)!;
      expect(s1001).toMatchObject({
        name: "alpha",
        state: "READY",
        ip: "10.77.0.11",
        workspace_id: "workspace-00000000000000aa",
        keepalive: 1,
        created_at: "2025-01-15T10:00:00.500Z",
        updated_at: "2025-01-15T10:00:01.000Z",
        meta_json: '{"k":"v"}',
        owner_tag: null,
        runner: null,
      });
      expect(sandboxes.find((s) => s.vmid === 1004)).toMatchObject({ lease_expires_at: "2025-01-15T10:00:00.987Z" });
      expect(sandboxes.find((s) => s.vmid === 1003)).toMatchObject({ lease_expires_at: "" });
      expect(sandboxes.find((s) => s.vmid === 1005)).toMatchObject({ created_at: "2025-01-15T09:59:59.999Z" });

      // Duplicate live name: the newest (1001) keeps it, the older live one is renamed, the tombstone is untouched.
      expect(sandboxes.find((s) => s.vmid === 1000)!.name).toBe("alpha-1000");
      expect(sandboxes.find((s) => s.vmid === 1002)!.name).toBe("alpha");
      expect(db.prepare("SELECT sandbox_vmid, msg FROM events WHERE kind = 'sandbox.renamed'").all()).toEqual([
        { sandbox_vmid: 1000, msg: "renamed alpha -> alpha-1000: duplicate name among live sandboxes (migration 6)" },
      ]);
      expect(() =>
        db
          .prepare(
            "INSERT INTO sandboxes (vmid, name, profile, state, created_at, updated_at) VALUES (2000, 'alpha', 'p', 'READY', 'x', 'x')",
          )
          .run(),
      ).toThrow(/UNIQUE/);

      const job = db.prepare("SELECT * FROM jobs WHERE id = 'job_0000000000000003'").get() as Record<string, unknown>;
      expect(job).toMatchObject({ status: "QUEUED", created_at: "2025-01-15T10:00:00.123Z", idempotency_key: null });
      expect(job.task).toBe(level >= 2 ? "task for job_0000000000000003" : null);
      expect(job.keepalive).toBe(0);

      // Every timestamp column is fixed-width (or NULL / '') and event text order is now time order.
      const stamps = db
        .prepare(
          `SELECT ts AS t FROM events UNION ALL SELECT created_at FROM sandboxes UNION ALL SELECT updated_at FROM jobs
           UNION ALL SELECT consumed_at FROM bootstrap_tokens UNION ALL SELECT created_at FROM workspaces
           UNION ALL SELECT updated_at FROM profiles`,
        )
        .pluck()
        .all() as (string | null)[];
      expect(stamps.filter((t) => t !== null && !isFixedWidthTimestamp(t))).toEqual([]);
      const originalEvents = db.prepare("SELECT id, ts FROM events WHERE kind = 'sandbox.state' ORDER BY id").all() as {
        id: number;
        ts: string;
      }[];
      const byText = db.prepare("SELECT id FROM events WHERE kind = 'sandbox.state' ORDER BY ts, id").pluck().all();
      expect(byText).toEqual(originalEvents.map((e) => e.id));
      expect(originalEvents.map((e) => e.ts)).toEqual([
        "2025-01-15T10:00:00.000Z",
        "2025-01-15T10:00:00.100Z",
        "2025-01-15T10:00:00.123Z",
        "2025-01-15T10:00:00.900Z",
        "2025-01-15T10:00:01.000Z",
        "2025-01-15T10:00:01.050Z",
      ]);

      if (level === 3) {
        const artifact = db.prepare("SELECT * FROM artifacts").get() as Record<string, unknown>;
        expect(artifact).toMatchObject({ created_at: "2025-01-15T10:19:30.000Z", stored_path: null, size_bytes: 1234 });
        const token = db.prepare("SELECT * FROM artifact_tokens").get() as Record<string, unknown>;
        expect(token).toMatchObject({ created_at: "2025-01-15T10:02:00.300Z", revoked_at: null });
        expect(tableColumns(db, "bootstrap_tokens")).toContain("job_id");
      }
      closeDatabase(db);
    });
  }
});
