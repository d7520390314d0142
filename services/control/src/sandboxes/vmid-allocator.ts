/**
 * Control owns VMID allocation (DESIGN §3): each runner has a range, and a VMID is never reused
 * while its row exists (DESTROYED rows are tombstones keyed by VMID). Proxmox's /cluster/nextid
 * reserves nothing (proxmox.md §3), so the runner only tells us "already exists" and we move on.
 */
import { ResourceExhaustedError } from "@agentlab/core";
import type { SqliteDatabase } from "../db/open-database.js";
import { highestVmidInRange, vmidIsRecorded } from "./sandbox-store.js";

export function allocateVmid(
  db: SqliteDatabase,
  range: { min: number; max: number },
  skip: ReadonlySet<number> = new Set(),
): number {
  const highest = highestVmidInRange(db, range);
  let candidate = highest === undefined ? range.min : highest + 1;
  while (candidate <= range.max && (skip.has(candidate) || vmidIsRecorded(db, candidate))) candidate++;
  if (candidate <= range.max) return candidate;
  // The top of the range is used: look for the lowest gap left by ids skipped earlier.
  const gap = db
    .prepare(
      `SELECT v FROM (SELECT ? AS v UNION ALL SELECT vmid + 1 FROM sandboxes WHERE vmid BETWEEN ? AND ?)
       WHERE v <= ? AND v NOT IN (SELECT vmid FROM sandboxes) ORDER BY v`,
    )
    .pluck()
    .all(range.min, range.min, range.max, range.max) as number[];
  const free = gap.find((v) => !skip.has(v));
  if (free !== undefined) return free;
  throw new ResourceExhaustedError({
    message: `no free VMID left in ${range.min}-${range.max}`,
    hint: "widen the runner's vmid_range in config.yaml",
  });
}
