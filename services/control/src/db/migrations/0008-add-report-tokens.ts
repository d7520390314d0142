import type { Migration } from "../migration.js";

/**
 * The per-job guest report token (ReportStatus, AppendLogs): the original trusted the source IP for
 * reports; we require a token, stored as its hash, bound to job and VMID, expiring. Bootstrap tokens
 * gain the job they were minted for (NULL on migrated rows).
 */
export const addReportTokens: Migration = {
  version: 8,
  name: "add_report_tokens",
  up(db) {
    db.exec(`
      CREATE TABLE report_tokens (
        token_hash TEXT PRIMARY KEY,
        job_id TEXT NOT NULL,
        vmid INTEGER NOT NULL,
        expires_at TEXT NOT NULL,
        created_at TEXT NOT NULL,
        FOREIGN KEY(job_id) REFERENCES jobs(id) ON DELETE CASCADE
      );
      CREATE INDEX idx_report_tokens_job ON report_tokens(job_id);
      CREATE INDEX idx_report_tokens_vmid ON report_tokens(vmid);
      ALTER TABLE bootstrap_tokens ADD COLUMN job_id TEXT REFERENCES jobs(id) ON DELETE CASCADE;
      CREATE INDEX idx_bootstrap_tokens_job ON bootstrap_tokens(job_id);
    `);
  },
};
