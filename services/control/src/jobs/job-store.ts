/**
 * The `jobs` table. Statuses are stored as bare names ("QUEUED"), as the original stored them.
 * Status changes are compare-and-set (`UPDATE … WHERE status = ?`) so the orchestrator, the guest's
 * final report, a cancel and the watch loops can race without two of them ending the same job.
 */
import { InvalidArgumentError, NotFoundError } from "@agentlab/core";
import type { SqliteDatabase } from "../db/open-database.js";

export const JOB_STATUSES = ["QUEUED", "RUNNING", "COMPLETED", "FAILED", "TIMEOUT", "CANCELED"] as const;
export type JobStatusName = (typeof JOB_STATUSES)[number];
export const FINAL_STATUSES: readonly JobStatusName[] = ["COMPLETED", "FAILED", "TIMEOUT", "CANCELED"];

export function isFinalStatus(status: string): boolean {
  return (FINAL_STATUSES as readonly string[]).includes(status);
}

export interface JobRecord {
  id: string;
  repoUrl: string;
  ref: string;
  profile: string;
  task: string;
  mode: string;
  /** Null only on rows migrated from the original without one. */
  ttlMinutes: number | null;
  keepalive: boolean;
  /** Upper-cased; an original row's lower-case status reads the same. */
  status: string;
  sandboxVmid: number | null;
  createdAt: string;
  updatedAt: string;
  resultJson: string | null;
  idempotencyKey: string | null;
  agentCommand: string | null;
  secretsBundle: string | null;
  cancelRequestedAt: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  lastHeartbeatAt: string | null;
  failureReason: string | null;
  workspaceId: string | null;
}

interface JobRow {
  id: string;
  repo_url: string;
  ref: string;
  profile: string;
  status: string;
  sandbox_vmid: number | null;
  created_at: string;
  updated_at: string;
  result_json: string | null;
  task: string | null;
  mode: string | null;
  ttl_minutes: number | null;
  keepalive: number;
  idempotency_key: string | null;
  agent_command: string | null;
  secrets_bundle: string | null;
  cancel_requested_at: string | null;
  started_at: string | null;
  finished_at: string | null;
  last_heartbeat_at: string | null;
  failure_reason: string | null;
  workspace_id: string | null;
}

function toRecord(row: JobRow): JobRecord {
  return {
    id: row.id,
    repoUrl: row.repo_url,
    ref: row.ref,
    profile: row.profile,
    task: row.task ?? "",
    mode: row.mode ?? "",
    ttlMinutes: row.ttl_minutes,
    keepalive: row.keepalive !== 0,
    status: row.status.toUpperCase(),
    sandboxVmid: row.sandbox_vmid,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    resultJson: row.result_json,
    idempotencyKey: row.idempotency_key,
    agentCommand: row.agent_command,
    secretsBundle: row.secrets_bundle,
    cancelRequestedAt: row.cancel_requested_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    lastHeartbeatAt: row.last_heartbeat_at,
    failureReason: row.failure_reason,
    workspaceId: row.workspace_id,
  };
}

export interface NewJob {
  id: string;
  repoUrl: string;
  ref: string;
  profile: string;
  task: string;
  mode: string;
  ttlMinutes: number;
  keepalive: boolean;
  idempotencyKey: string | null;
  agentCommand: string | null;
  secretsBundle: string | null;
  workspaceId: string | null;
}

export function insertJob(db: SqliteDatabase, job: NewJob, now: string): JobRecord {
  db.prepare(
    `INSERT INTO jobs (id, repo_url, ref, profile, status, created_at, updated_at, task, mode, ttl_minutes, keepalive,
       idempotency_key, agent_command, secrets_bundle, workspace_id)
     VALUES (@id, @repoUrl, @ref, @profile, 'QUEUED', @now, @now, @task, @mode, @ttlMinutes, @keepalive,
       @idempotencyKey, @agentCommand, @secretsBundle, @workspaceId)`,
  ).run({ ...job, keepalive: job.keepalive ? 1 : 0, now });
  return getJob(db, job.id);
}

export function findJob(db: SqliteDatabase, id: string): JobRecord | undefined {
  const row = db.prepare("SELECT * FROM jobs WHERE id = ?").get(id) as JobRow | undefined;
  return row ? toRecord(row) : undefined;
}

export function getJob(db: SqliteDatabase, id: string): JobRecord {
  if (id === "") {
    throw new InvalidArgumentError({
      message: "job_id is required",
      what: "job_id",
      hint: "e.g. job_0123456789abcdef",
    });
  }
  const found = findJob(db, id);
  if (!found) {
    throw new NotFoundError({
      message: `job ${id} not found`,
      what: "job",
      value: id,
      hint: "list jobs with `agentlab job list`",
    });
  }
  return found;
}

export function findJobByIdempotencyKey(db: SqliteDatabase, key: string): JobRecord | undefined {
  const row = db.prepare("SELECT * FROM jobs WHERE idempotency_key = ?").get(key) as JobRow | undefined;
  return row ? toRecord(row) : undefined;
}

/** Jobs in these statuses, oldest first (admission order). */
export function listJobsInStatus(db: SqliteDatabase, statuses: readonly JobStatusName[]): JobRecord[] {
  const rows = db
    .prepare(
      `SELECT * FROM jobs WHERE UPPER(status) IN (${statuses.map(() => "?").join(",")}) ORDER BY created_at, rowid`,
    )
    .all(...statuses) as JobRow[];
  return rows.map(toRecord);
}

export interface ListJobsQuery {
  statuses?: readonly JobStatusName[];
  profile?: string;
  limit: number;
  /** Resume after this (created_at, id), newest first. */
  after?: { createdAt: string; id: string };
}

export function listJobs(db: SqliteDatabase, query: ListJobsQuery): JobRecord[] {
  const where: string[] = [];
  const params: unknown[] = [];
  if (query.statuses && query.statuses.length > 0) {
    where.push(`UPPER(status) IN (${query.statuses.map(() => "?").join(",")})`);
    params.push(...query.statuses);
  }
  if (query.profile) {
    where.push("profile = ?");
    params.push(query.profile);
  }
  if (query.after) {
    where.push("(created_at < ? OR (created_at = ? AND id < ?))");
    params.push(query.after.createdAt, query.after.createdAt, query.after.id);
  }
  const sql = `SELECT * FROM jobs ${where.length ? `WHERE ${where.join(" AND ")}` : ""}
    ORDER BY created_at DESC, id DESC LIMIT ?`;
  return (db.prepare(sql).all(...params, query.limit) as JobRow[]).map(toRecord);
}

/** QUEUED → RUNNING; false when the job is no longer QUEUED (canceled meanwhile). */
export function markJobStarted(db: SqliteDatabase, id: string, now: string): boolean {
  return (
    db
      .prepare(
        "UPDATE jobs SET status = 'RUNNING', started_at = ?, updated_at = ? WHERE id = ? AND UPPER(status) = 'QUEUED'",
      )
      .run(now, now, id).changes === 1
  );
}

/** RUNNING → QUEUED when admission lost a race after all: the job waits again, as if never started. */
export function markJobRequeued(db: SqliteDatabase, id: string, now: string): boolean {
  return (
    db
      .prepare(
        `UPDATE jobs SET status = 'QUEUED', started_at = NULL, sandbox_vmid = NULL, updated_at = ?
         WHERE id = ? AND UPPER(status) = 'RUNNING'`,
      )
      .run(now, id).changes === 1
  );
}

export function linkJobSandbox(db: SqliteDatabase, id: string, vmid: number, now: string): void {
  db.prepare("UPDATE jobs SET sandbox_vmid = ?, updated_at = ? WHERE id = ? AND sandbox_vmid IS NOT ?").run(
    vmid,
    now,
    id,
    vmid,
  );
}

/** Every guest call counts as a sign of life. */
export function recordHeartbeat(db: SqliteDatabase, id: string, now: string): void {
  db.prepare("UPDATE jobs SET last_heartbeat_at = ? WHERE id = ?").run(now, id);
}

export function markCancelRequested(db: SqliteDatabase, id: string, reason: string, now: string): boolean {
  return (
    db
      .prepare(
        `UPDATE jobs SET cancel_requested_at = COALESCE(cancel_requested_at, @now), failure_reason = @reason,
           updated_at = @now WHERE id = @id AND UPPER(status) = 'RUNNING'`,
      )
      .run({ id, reason, now }).changes === 1
  );
}

export interface JobEnding {
  status: Exclude<JobStatusName, "QUEUED" | "RUNNING">;
  /** Null for COMPLETED. */
  failureReason: string | null;
  /** Null when the guest reported nothing (lost, canceled before start, provisioning failed). */
  resultJson: string | null;
}

/** Non-final → final, once. Returns false when the job was already final. */
export function markJobFinished(db: SqliteDatabase, id: string, ending: JobEnding, now: string): boolean {
  return (
    db
      .prepare(
        `UPDATE jobs SET status = @status, failure_reason = @reason, result_json = COALESCE(@result, result_json),
           finished_at = @now, updated_at = @now
         WHERE id = @id AND UPPER(status) IN ('QUEUED', 'RUNNING')`,
      )
      .run({ id, status: ending.status, reason: ending.failureReason, result: ending.resultJson, now }).changes === 1
  );
}
