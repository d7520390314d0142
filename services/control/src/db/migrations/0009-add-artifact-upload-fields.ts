import type { Migration } from "../migration.js";

/**
 * Upload tokens can be revoked when the job ends (`revoked_at`) instead of living until expiry.
 * `stored_path` is the file's path relative to artifact_dir, unique when set, so two uploads of one
 * logical path are both kept; NULL on migrated rows, whose file is `<job_id>/<path>` as the original
 * stored it.
 */
export const addArtifactUploadFields: Migration = {
  version: 9,
  name: "add_artifact_upload_fields",
  up(db) {
    db.exec(`
      ALTER TABLE artifact_tokens ADD COLUMN revoked_at TEXT;
      ALTER TABLE artifacts ADD COLUMN stored_path TEXT;
      CREATE UNIQUE INDEX idx_artifacts_stored_path ON artifacts(stored_path) WHERE stored_path IS NOT NULL;
    `);
  },
};
