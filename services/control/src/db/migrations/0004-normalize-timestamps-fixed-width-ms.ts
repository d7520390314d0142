import type { Migration } from "../migration.js";
import { normaliseTimestampText } from "../timestamps.js";

/** Every timestamp column that exists at version 3 (all later columns are written fixed-width). */
const TIMESTAMP_COLUMNS: ReadonlyArray<readonly [table: string, column: string]> = [
  ["schema_migrations", "applied_at"],
  ["sandboxes", "lease_expires_at"],
  ["sandboxes", "created_at"],
  ["sandboxes", "updated_at"],
  ["jobs", "created_at"],
  ["jobs", "updated_at"],
  ["profiles", "updated_at"],
  ["workspaces", "created_at"],
  ["workspaces", "updated_at"],
  ["bootstrap_tokens", "expires_at"],
  ["bootstrap_tokens", "consumed_at"],
  ["bootstrap_tokens", "created_at"],
  ["events", "ts"],
  ["artifact_tokens", "expires_at"],
  ["artifact_tokens", "created_at"],
  ["artifact_tokens", "last_used_at"],
  ["artifacts", "created_at"],
];

/** Rows already in `YYYY-MM-DDTHH:MM:SS.sssZ` are skipped in C, without calling into JS. */
const FIXED_WIDTH_GLOB = "[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9]Z";

export const NORMALISE_TIMESTAMP_SQL_FUNCTION = "agentlab_fixed_width_ts";

/**
 * The original stored Go RFC3339Nano (`…:00Z`, `…:00.1Z`, `…:00.123456789Z`): variable width, so
 * text order was not time order. Rewrite every timestamp to milliseconds, truncating extra digits
 * and converting offsets to UTC. One UPDATE per column with a registered SQL function keeps this a
 * single pass in SQLite (1M events in about a second) instead of a JS round-trip per row.
 * NULL and '' stay as they are. Text that is not RFC 3339 at all is left unchanged rather than
 * blocking startup: the original only ever wrote RFC 3339, so such a value came from a hand edit.
 */
export const normalizeTimestampsFixedWidthMs: Migration = {
  version: 4,
  name: "normalize_timestamps_fixed_width_ms",
  up(db) {
    db.function(NORMALISE_TIMESTAMP_SQL_FUNCTION, { deterministic: true }, (value: unknown) =>
      typeof value === "string" ? (normaliseTimestampText(value) ?? value) : value,
    );
    for (const [table, column] of TIMESTAMP_COLUMNS) {
      db.prepare(
        `UPDATE ${table} SET ${column} = ${NORMALISE_TIMESTAMP_SQL_FUNCTION}(${column})
         WHERE ${column} IS NOT NULL AND ${column} <> '' AND ${column} NOT GLOB '${FIXED_WIDTH_GLOB}'`,
      ).run();
    }
  },
};
