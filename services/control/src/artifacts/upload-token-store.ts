/**
 * Per-job upload tokens (DESIGN §2; agentlab-reference.md §1.2 "Artifact token"): random, stored as
 * their SHA-256 in `artifact_tokens.token`, bound to one job and VMID, reusable until they expire
 * (the guest uploads several files), revocable. The job an upload belongs to always comes from the
 * token row, never from the request, so one job's token cannot write another job's files.
 */
import { PermissionDeniedError, UnauthenticatedError } from "@agentlab/core";
import type { SqliteDatabase } from "../db/open-database.js";
import { formatTimestamp } from "../db/timestamps.js";
import { hashToken, newToken } from "../tokens/token-hash.js";
import { jobFinishedAt } from "./job-finality.js";

/**
 * The guest uploads its artifacts before its final report, but a slow upload of a large bundle can
 * still be in flight when control marks the job finished (guest lost, deadline): allow that long.
 */
export const DEFAULT_FINISHED_GRACE_MS = 10 * 60_000;

export interface UploadTokenBinding {
  readonly jobId: string;
  /** 0 for a token row migrated from the original without a VMID. */
  readonly vmid: number;
}

export interface AuthorizeUploadOptions {
  /** How long after the job finished its token still works; default 10 minutes. */
  readonly finishedGraceMs?: number;
}

interface TokenRow {
  job_id: string;
  vmid: number | null;
  expires_at: string;
  revoked_at: string | null;
}

/** Mints a token for the job's sandbox; returns the plaintext, which is never stored. */
export function mintUploadToken(
  db: SqliteDatabase,
  binding: { jobId: string; vmid: number },
  now: Date,
  ttlMs: number,
  random?: (size: number) => Buffer,
): string {
  if (!Number.isFinite(ttlMs) || ttlMs <= 0) {
    throw new RangeError(`mintUploadToken: ttlMs ${ttlMs} must be positive; pass artifact_token_ttl_minutes * 60000`);
  }
  const token = newToken(random);
  db.prepare(
    `INSERT INTO artifact_tokens (token, job_id, vmid, expires_at, created_at, last_used_at, revoked_at)
     VALUES (?, ?, ?, ?, ?, NULL, NULL)`,
  ).run(
    hashToken(token),
    binding.jobId,
    binding.vmid,
    formatTimestamp(new Date(now.getTime() + ttlMs)),
    formatTimestamp(now),
  );
  return token;
}

/** One refusal for unknown, expired and revoked alike, so a caller cannot probe which tokens exist. */
function refused(): UnauthenticatedError {
  return new UnauthenticatedError({
    message: "upload token refused: unknown, expired or revoked",
    hint: "upload with the token from this job's bootstrap payload while the job runs",
  });
}

/**
 * Checks a token and marks it used. UNAUTHENTICATED when it is unknown, expired or revoked;
 * PERMISSION_DENIED when its job finished longer ago than the grace period. Runs inside the
 * caller's transaction when there is one (RecordArtifact), so the check and the insert agree.
 */
export function authorizeUploadToken(
  db: SqliteDatabase,
  token: string,
  now: Date,
  options: AuthorizeUploadOptions = {},
): UploadTokenBinding {
  if (token === "") throw refused();
  const hash = hashToken(token);
  const row = db
    .prepare("SELECT job_id, vmid, expires_at, revoked_at FROM artifact_tokens WHERE token = ?")
    .get(hash) as TokenRow | undefined;
  if (!row || row.revoked_at !== null || row.expires_at <= formatTimestamp(now)) throw refused();

  const finishedAt = jobFinishedAt(db, row.job_id);
  const graceMs = options.finishedGraceMs ?? DEFAULT_FINISHED_GRACE_MS;
  if (finishedAt !== undefined && now.getTime() - finishedAt.getTime() > graceMs) {
    throw new PermissionDeniedError({
      message: `job ${row.job_id} finished at ${formatTimestamp(finishedAt)}; uploads are accepted until ${graceMs / 60_000} minutes after that`,
      what: "job",
      value: row.job_id,
      hint: "upload artifacts before reporting the final status",
    });
  }
  db.prepare("UPDATE artifact_tokens SET last_used_at = ? WHERE token = ?").run(formatTimestamp(now), hash);
  return { jobId: row.job_id, vmid: row.vmid ?? 0 };
}

/** Revokes every live token of a job (its sandbox is gone); returns how many were revoked. */
export function revokeUploadTokensForJob(db: SqliteDatabase, jobId: string, now: Date): number {
  return db
    .prepare("UPDATE artifact_tokens SET revoked_at = ? WHERE job_id = ? AND revoked_at IS NULL")
    .run(formatTimestamp(now), jobId).changes;
}
