/**
 * One-time bootstrap tokens (DESIGN §2): minted when a sandbox is provisioned, delivered only inside
 * the bootstrap data (cloud-init snippet or a file in the local sandbox), bound to one VMID (and job),
 * expiring, and consumed only once the payload they unlock has been built (a server error must not
 * burn the token: agentlab-reference.md §8 item 2).
 */
import { UnauthenticatedError } from "@agentlab/core";
import type { SqliteDatabase } from "../db/open-database.js";
import { formatTimestamp } from "../db/timestamps.js";
import { hashToken, newToken } from "./token-hash.js";

export interface BootstrapTokenRow {
  vmid: number;
  jobId: string | null;
  expiresAt: string;
  consumedAt: string | null;
}

export function mintBootstrapToken(
  db: SqliteDatabase,
  binding: { vmid: number; jobId: string | null },
  now: Date,
  ttlMs: number,
  random?: (size: number) => Buffer,
): string {
  const token = newToken(random);
  db.prepare(
    `INSERT INTO bootstrap_tokens (token, vmid, expires_at, consumed_at, created_at, job_id)
     VALUES (?, ?, ?, NULL, ?, ?)`,
  ).run(
    hashToken(token),
    binding.vmid,
    formatTimestamp(new Date(now.getTime() + ttlMs)),
    formatTimestamp(now),
    binding.jobId,
  );
  return token;
}

/** Same refusal for every reason, so a caller cannot probe which tokens exist. */
function refused(detail: string): UnauthenticatedError {
  return new UnauthenticatedError({
    message: "bootstrap token refused: unknown, already used, expired or issued for another sandbox",
    hint: detail,
  });
}

/** Checks a token without consuming it. Throws UNAUTHENTICATED when it cannot be used. */
export function checkBootstrapToken(db: SqliteDatabase, token: string, vmid: number, now: Date): BootstrapTokenRow {
  const row = db
    .prepare(
      "SELECT vmid, job_id AS jobId, expires_at AS expiresAt, consumed_at AS consumedAt FROM bootstrap_tokens WHERE token = ?",
    )
    .get(hashToken(token)) as BootstrapTokenRow | undefined;
  if (!row || row.vmid !== vmid || row.consumedAt !== null || row.expiresAt <= formatTimestamp(now)) {
    throw refused("a restarted guest reuses its cached payload; a new sandbox gets a new token");
  }
  return row;
}

/** Marks the token used. Returns false if another request consumed it first. */
export function consumeBootstrapToken(db: SqliteDatabase, token: string, now: Date): boolean {
  const result = db
    .prepare("UPDATE bootstrap_tokens SET consumed_at = ? WHERE token = ? AND consumed_at IS NULL")
    .run(formatTimestamp(now), hashToken(token));
  return result.changes === 1;
}

export function deleteBootstrapTokensForVmid(db: SqliteDatabase, vmid: number): void {
  db.prepare("DELETE FROM bootstrap_tokens WHERE vmid = ?").run(vmid);
}
