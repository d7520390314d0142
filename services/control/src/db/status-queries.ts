import type { SqliteDatabase } from "./open-database.js";

export { schemaVersion } from "./migration-plan.js";

/** Sandboxes per state (DESTROYED tombstones included), for GetStatus. */
export function countSandboxesByState(db: SqliteDatabase): Record<string, number> {
  const rows = db.prepare(`SELECT state, COUNT(*) AS count FROM sandboxes GROUP BY state ORDER BY state`).all() as {
    state: string;
    count: number;
  }[];
  return Object.fromEntries(rows.map((r) => [r.state, r.count]));
}

export interface IntegrityResult {
  readonly ok: boolean;
  /** `["ok"]` when healthy, otherwise SQLite's findings (at most 100). */
  readonly messages: readonly string[];
}

/**
 * `PRAGMA integrity_check` (or the faster `quick_check`, which skips index-content checks) plus a
 * foreign key check, which integrity_check does not do.
 */
export function integrityCheck(db: SqliteDatabase, options: { quick?: boolean } = {}): IntegrityResult {
  const pragma = options.quick ? "quick_check(100)" : "integrity_check(100)";
  const messages = db.pragma(pragma, { simple: false }) as Record<string, string>[];
  const findings = messages.map((row) => String(Object.values(row)[0]));
  const fkViolations = db.pragma("foreign_key_check") as { table: string; rowid: number; parent: string }[];
  const all = [
    ...findings.filter((m) => m !== "ok"),
    ...fkViolations.map((v) => `foreign key violation: ${v.table} rowid ${v.rowid} references missing ${v.parent}`),
  ];
  return all.length === 0 ? { ok: true, messages: ["ok"] } : { ok: false, messages: all };
}
