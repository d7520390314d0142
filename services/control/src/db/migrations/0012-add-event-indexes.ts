import type { Migration } from "../migration.js";

/**
 * Event payloads stay in the original `json` column (no `payload_json`): one column means migrated
 * events keep their payload without a copy, and the API exposes it as `payload`. Filters by kind
 * and time ranges need these indexes; `id` order (the rowid) serves resume-from-id.
 */
export const addEventIndexes: Migration = {
  version: 12,
  name: "add_event_indexes",
  up(db) {
    db.exec(`
      CREATE INDEX idx_events_kind ON events(kind);
      CREATE INDEX idx_events_ts ON events(ts);
    `);
  },
};
