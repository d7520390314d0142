import type { Migration } from "../migration.js";

/** The original's migration 2: the job spec columns (nullable, except keepalive). */
export const addJobSpecFields: Migration = {
  version: 2,
  name: "add_job_spec_fields",
  up(db) {
    db.exec(`
      ALTER TABLE jobs ADD COLUMN task TEXT;
      ALTER TABLE jobs ADD COLUMN mode TEXT;
      ALTER TABLE jobs ADD COLUMN ttl_minutes INTEGER;
      ALTER TABLE jobs ADD COLUMN keepalive INTEGER NOT NULL DEFAULT 0;
    `);
  },
};
