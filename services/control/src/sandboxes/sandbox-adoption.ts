/**
 * The adoption hint sent with stop and destroy for a sandbox migrated from the original AgentLab
 * (no owner tag yet): the runner tags and acts on the VM only when its VMID and name match. The
 * name to match is the one the original gave the VM — migration 6 may have renamed the row since
 * (`alpha` → `alpha-1000` for a duplicate live name), while the VM kept its old name.
 */
import type { SqliteDatabase } from "../db/open-database.js";
import type { SandboxRecord } from "./sandbox-record.js";

/** `{}` for our own sandboxes; `{ adopt: { name } }` for migrated ones, with the VM's original name. */
export function adoptionHintFor(db: SqliteDatabase, record: SandboxRecord): { adopt?: { name: string } } {
  if (record.ownerTag) return {};
  const renamed = db
    .prepare(`SELECT json FROM events WHERE kind = 'sandbox.renamed' AND sandbox_vmid = ? ORDER BY id LIMIT 1`)
    .pluck()
    .get(record.vmid) as string | null | undefined;
  let name = record.name;
  try {
    const from = renamed ? (JSON.parse(renamed) as { from?: unknown }).from : undefined;
    if (typeof from === "string" && from !== "") name = from;
  } catch {
    // An unreadable rename record: fall back to the row's name (the runner refuses on a mismatch).
  }
  return { adopt: { name } };
}
