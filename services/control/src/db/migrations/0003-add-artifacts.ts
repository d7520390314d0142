import type { Migration } from "../migration.js";

/**
 * The original's migration 3: upload tokens (stored as sha256 hex in `token`) and artifact rows,
 * both cascading from jobs. The original never deleted jobs, but the cascade is part of its schema.
 */
export const addArtifacts: Migration = {
  version: 3,
  name: "add_artifacts",
  up(db) {
    db.exec(`
      CREATE TABLE IF NOT EXISTS artifact_tokens (
        token TEXT PRIMARY KEY,
        job_id TEXT NOT NULL,
        vmid INTEGER,
        expires_at TEXT NOT NULL,
        created_at TEXT NOT NULL,
        last_used_at TEXT,
        FOREIGN KEY(job_id) REFERENCES jobs(id) ON DELETE CASCADE
      );
      CREATE INDEX IF NOT EXISTS idx_artifact_tokens_job ON artifact_tokens(job_id);
      CREATE INDEX IF NOT EXISTS idx_artifact_tokens_vmid ON artifact_tokens(vmid);
      CREATE TABLE IF NOT EXISTS artifacts (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        job_id TEXT NOT NULL,
        vmid INTEGER,
        name TEXT NOT NULL,
        path TEXT NOT NULL,
        size_bytes INTEGER NOT NULL,
        sha256 TEXT NOT NULL,
        mime TEXT,
        created_at TEXT NOT NULL,
        FOREIGN KEY(job_id) REFERENCES jobs(id) ON DELETE CASCADE
      );
      CREATE INDEX IF NOT EXISTS idx_artifacts_job ON artifacts(job_id);
      CREATE INDEX IF NOT EXISTS idx_artifacts_vmid ON artifacts(vmid);
    `);
  },
};
