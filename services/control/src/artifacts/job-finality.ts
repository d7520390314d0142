/**
 * When a job counts as finished, for upload tokens (a grace period after the end) and retention
 * (only final jobs lose artifacts). Statuses are stored as bare names ("COMPLETED"), as the original
 * stored them.
 */
import type { SqliteDatabase } from "../db/open-database.js";
import { parseTimestamp } from "../db/timestamps.js";

export const FINAL_JOB_STATUSES = ["COMPLETED", "FAILED", "TIMEOUT", "CANCELED"] as const;

/** `'COMPLETED', 'FAILED', …` for SQL `IN (…)`: constants only, never user input. */
export const FINAL_JOB_STATUSES_SQL = FINAL_JOB_STATUSES.map((s) => `'${s}'`).join(", ");

export function isFinalJobStatus(status: string): boolean {
  return (FINAL_JOB_STATUSES as readonly string[]).includes(status.toUpperCase());
}

interface JobEndRow {
  status: string;
  updated_at: string | null;
  finished_at: string | null;
}

/**
 * When the job ended, or undefined while it runs (or when it does not exist). `finished_at` is what
 * the orchestrator writes; rows from the original (and any path that forgot it) fall back to
 * `updated_at` of a final status, which the original bumped on its final report.
 */
export function jobFinishedAt(db: SqliteDatabase, jobId: string): Date | undefined {
  const row = db.prepare("SELECT status, updated_at, finished_at FROM jobs WHERE id = ?").get(jobId) as
    | JobEndRow
    | undefined;
  if (!row) return undefined;
  if (row.finished_at) return parseTimestamp(row.finished_at);
  if (isFinalJobStatus(row.status) && row.updated_at) return parseTimestamp(row.updated_at);
  return undefined;
}

export function jobExists(db: SqliteDatabase, jobId: string): boolean {
  return db.prepare("SELECT 1 FROM jobs WHERE id = ?").get(jobId) !== undefined;
}
