import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { closeDatabase, type SqliteDatabase } from "../../src/db/open-database.js";
import { openMigratedDatabase } from "../../src/db/open-migrated-database.js";
import { appendJobLogs, listJobLogs } from "../../src/jobs/job-log-store.js";
import { makeTempDir } from "../db/temp-database-dir.js";

const TS = "2026-03-01T12:00:00.000Z";
const chunk = (seq: number, data: string) => ({ seq, ts: TS, stream: "stdout", data });

describe("job log store", () => {
  let tmp: ReturnType<typeof makeTempDir>;
  let db: SqliteDatabase;
  beforeEach(async () => {
    tmp = makeTempDir("agentlab-joblogs-");
    ({ db } = await openMigratedDatabase({
      dbPath: tmp.dbPath,
      clock: () => new Date(TS),
      takeBackup: false,
      freeBytes: () => 1024 ** 4,
    }));
    db.prepare(
      "INSERT INTO jobs (id, repo_url, ref, profile, status, created_at, updated_at) VALUES ('job_1', 'r', 'main', 'p', 'RUNNING', ?, ?)",
    ).run(TS, TS);
  });
  afterEach(() => {
    closeDatabase(db);
    tmp.remove();
  });

  it("caps stored bytes with one system line, then acknowledges and drops", () => {
    const opts = { maxBytes: 10, secrets: ["hunter2-secret"] };
    expect(appendJobLogs(db, "job_1", { ...opts, entries: [chunk(1, "12345"), chunk(2, "hunter2-secret")] })).toEqual({
      storedSeq: 2,
      inserted: 2,
    });
    expect(appendJobLogs(db, "job_1", { ...opts, entries: [chunk(3, "more"), chunk(4, "and more")] })).toEqual({
      storedSeq: 4,
      inserted: 0,
    });
    expect(appendJobLogs(db, "job_1", { ...opts, entries: [] }).storedSeq).toBe(2);
    const rows = listJobLogs(db, "job_1", 0, 100);
    expect(rows.map((r) => [r.seq, r.stream])).toEqual([
      [1, "stdout"],
      [2, "system"],
    ]);
    expect(rows[1]!.data).toMatch(/^log stream truncated: job_log_max_bytes \(10 bytes\) reached/);
    expect(JSON.stringify(rows)).not.toContain("hunter2-secret");
  });
});
