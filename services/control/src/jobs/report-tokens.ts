/**
 * Per-job report tokens (migration 8): what ReportStatus and AppendLogs require. The original trusted
 * the source IP of reports (agentlab-reference.md §3.4, follow-up T39); we require a random token,
 * minted in FetchBootstrap, stored as its hash, bound to the job and VMID, expiring after the job's
 * TTL plus the upload grace plus some slack for the final report's retries.
 */
import { UnauthenticatedError } from "@agentlab/core";
import type { SqliteDatabase } from "../db/open-database.js";
import { formatTimestamp } from "../db/timestamps.js";
import { hashToken, newToken } from "../tokens/token-hash.js";

/** After TTL + upload grace the guest may still be retrying its final report (up to ~1 min) or waiting on a slow control. */
export const REPORT_TOKEN_SLACK_MS = 30 * 60_000;

export function reportTokenTtlMs(ttlMinutes: number, uploadGraceMs: number): number {
  return ttlMinutes * 60_000 + uploadGraceMs + REPORT_TOKEN_SLACK_MS;
}

export function mintReportToken(
  db: SqliteDatabase,
  binding: { jobId: string; vmid: number },
  now: Date,
  ttlMs: number,
  random?: (size: number) => Buffer,
): string {
  const token = newToken(random);
  db.prepare("INSERT INTO report_tokens (token_hash, job_id, vmid, expires_at, created_at) VALUES (?, ?, ?, ?, ?)").run(
    hashToken(token),
    binding.jobId,
    binding.vmid,
    formatTimestamp(new Date(now.getTime() + ttlMs)),
    formatTimestamp(now),
  );
  return token;
}

/**
 * Throws UNAUTHENTICATED unless the token is a live report token of exactly this job and VMID. One
 * message for every reason, so a caller cannot probe which tokens or jobs exist.
 */
export function checkReportToken(db: SqliteDatabase, token: string, jobId: string, vmid: number, now: Date): void {
  const row =
    token === ""
      ? undefined
      : (db
          .prepare("SELECT job_id AS jobId, vmid, expires_at AS expiresAt FROM report_tokens WHERE token_hash = ?")
          .get(hashToken(token)) as { jobId: string; vmid: number; expiresAt: string } | undefined);
  if (!row || row.jobId !== jobId || row.vmid !== vmid || row.expiresAt <= formatTimestamp(now)) {
    throw new UnauthenticatedError({
      message: "report token refused: unknown, expired, or issued for another job or sandbox",
      hint: "send the report_token from this sandbox's bootstrap payload",
    });
  }
}
