import type { Migration } from "../migration.js";

/**
 * Idempotency keys of mutating requests: a retry with the same key and the same request hash gets
 * the original resource back; the same key with a different request is refused.
 */
export const addIdempotencyKeys: Migration = {
  version: 11,
  name: "add_idempotency_keys",
  up(db) {
    db.exec(`
      CREATE TABLE idempotency_keys (
        key TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        resource_id TEXT NOT NULL,
        request_hash TEXT NOT NULL,
        created_at TEXT NOT NULL
      );
      CREATE INDEX idx_idempotency_keys_created_at ON idempotency_keys(created_at);
    `);
  },
};
