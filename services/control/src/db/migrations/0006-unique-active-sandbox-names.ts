import type { Migration } from "../migration.js";

interface SandboxNameRow {
  vmid: number;
  name: string;
}

/**
 * Sandbox names become unique among sandboxes that are not DESTROYED (DESTROYED rows are
 * tombstones and may repeat a name). The original did not enforce this, so migrated databases can
 * hold duplicates. Deterministic dedupe before the index: per duplicated name, the newest row
 * (latest created_at, then highest vmid) keeps the name; every older one is renamed `<name>-<vmid>`
 * (with a further `-<n>` should that too be taken), and a `sandbox.renamed` event records each
 * rename so operators can find them. Timestamps are fixed-width since version 4, so text order is
 * time order here.
 */
export const uniqueActiveSandboxNames: Migration = {
  version: 6,
  name: "unique_active_sandbox_names",
  up(db, context) {
    const duplicates = db
      .prepare(
        `SELECT vmid, name FROM sandboxes
         WHERE state != 'DESTROYED' AND name IN (
           SELECT name FROM sandboxes WHERE state != 'DESTROYED' GROUP BY name HAVING COUNT(*) > 1
         )
         ORDER BY name, created_at DESC, vmid DESC`,
      )
      .all() as SandboxNameRow[];
    const nameTaken = db.prepare(`SELECT 1 FROM sandboxes WHERE name = ? AND state != 'DESTROYED'`).pluck();
    const rename = db.prepare(`UPDATE sandboxes SET name = ? WHERE vmid = ?`);
    const recordRename = db.prepare(
      `INSERT INTO events (ts, kind, sandbox_vmid, msg, json) VALUES (?, 'sandbox.renamed', ?, ?, ?)`,
    );
    let previousName: string | undefined;
    for (const row of duplicates) {
      if (row.name !== previousName) {
        previousName = row.name; // the newest row of this name keeps it
        continue;
      }
      let candidate = `${row.name}-${row.vmid}`;
      for (let n = 2; nameTaken.get(candidate) !== undefined; n++) candidate = `${row.name}-${row.vmid}-${n}`;
      rename.run(candidate, row.vmid);
      recordRename.run(
        context.now,
        row.vmid,
        `renamed ${row.name} -> ${candidate}: duplicate name among live sandboxes (migration 6)`,
        JSON.stringify({ from: row.name, to: candidate }),
      );
    }
    db.exec(`CREATE UNIQUE INDEX idx_sandboxes_active_name ON sandboxes(name) WHERE state != 'DESTROYED'`);
  },
};
