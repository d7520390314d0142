import type { Migration } from "../migration.js";

/**
 * Log lines a guest streams with AppendLogs. `seq` is per job and dense, which is the offset
 * WatchJob resumes from. WITHOUT ROWID clusters a job's lines together on disk.
 */
export const addJobLogs: Migration = {
  version: 10,
  name: "add_job_logs",
  up(db) {
    db.exec(`
      CREATE TABLE job_logs (
        job_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        ts TEXT NOT NULL,
        stream TEXT NOT NULL,
        data TEXT NOT NULL,
        PRIMARY KEY(job_id, seq),
        FOREIGN KEY(job_id) REFERENCES jobs(id) ON DELETE CASCADE
      ) WITHOUT ROWID;
    `);
  },
};
