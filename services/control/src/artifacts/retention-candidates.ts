/**
 * Which artifacts retention may remove (agentlab-reference.md §7 "Artifact GC"): the job is final,
 * its sandbox is DESTROYED or gone (a kept-alive sandbox may still be inspected next to its
 * artifacts), and the job ended longer ago than its profile's retention.
 */
import type { SqliteDatabase } from "../db/open-database.js";
import { FINAL_JOB_STATUSES_SQL } from "./job-finality.js";

export interface RetentionJob {
  readonly jobId: string;
  readonly profile: string;
  readonly sandboxVmid: number | null;
}

export interface RetentionArtifact {
  readonly id: number;
  readonly sizeBytes: number;
  readonly storedPath: string;
}

/** A sandbox that still exists: no artifact of it is removed. */
const SANDBOX_GONE = (vmid: string) =>
  `NOT EXISTS (SELECT 1 FROM sandboxes s WHERE s.vmid = ${vmid} AND s.state != 'DESTROYED')`;

/** Final jobs with at least one artifact whose sandbox is DESTROYED or absent. */
export function finalJobsWithArtifacts(db: SqliteDatabase): RetentionJob[] {
  return db
    .prepare(
      `SELECT j.id AS jobId, j.profile AS profile, j.sandbox_vmid AS sandboxVmid
       FROM jobs j
       WHERE UPPER(j.status) IN (${FINAL_JOB_STATUSES_SQL})
         AND ${SANDBOX_GONE("j.sandbox_vmid")}
         AND EXISTS (SELECT 1 FROM artifacts a WHERE a.job_id = j.id)
       ORDER BY j.id`,
    )
    .all() as RetentionJob[];
}

/**
 * Up to `limit` of the job's artifacts that ended before `cutoff` (fixed-width timestamps compare as
 * text). The job's end is finished_at, else updated_at, else (never on rows we write) the
 * artifact's own created_at. Artifacts uploaded by another sandbox that still exists are skipped.
 */
export function expiredArtifactsOfJob(
  db: SqliteDatabase,
  jobId: string,
  cutoff: string,
  limit: number,
): RetentionArtifact[] {
  return db
    .prepare(
      `SELECT a.id AS id, a.size_bytes AS sizeBytes, COALESCE(a.stored_path, a.job_id || '/' || a.path) AS storedPath
       FROM artifacts a JOIN jobs j ON j.id = a.job_id
       WHERE a.job_id = ?
         AND COALESCE(NULLIF(j.finished_at, ''), NULLIF(j.updated_at, ''), a.created_at) < ?
         AND (a.vmid IS NULL OR ${SANDBOX_GONE("a.vmid")})
       ORDER BY a.id
       LIMIT ?`,
    )
    .all(jobId, cutoff, limit) as RetentionArtifact[];
}
