/**
 * Job log chunks (migration 10), keyed by the guest's own sequence number so a retried AppendLogs
 * never stores a line twice, and dense (no gaps) so WatchJob can resume from a seq. Secrets are
 * redacted again here, whatever the guest did. Stored bytes per job are capped at job_log_max_bytes:
 * past it, one `system` line says so and later chunks are acknowledged but dropped (the full log is
 * in the job's artifacts).
 */
import { redactSecrets } from "@agentlab/core";
import type { SqliteDatabase } from "../db/open-database.js";

export const LOG_STREAMS = ["stdout", "stderr", "system"] as const;
export const LOG_CAP_NOTE_PREFIX = "log stream truncated:";

export interface StoredLogChunk {
  seq: number;
  ts: string;
  stream: string;
  data: string;
}

export interface AppendLogsInput {
  entries: readonly StoredLogChunk[];
  maxBytes: number;
  secrets: readonly string[];
}

export interface AppendLogsResult {
  /** Highest seq acknowledged: the guest resends from storedSeq + 1. */
  storedSeq: number;
  /** How many chunks were stored now (0 for a pure repeat). */
  inserted: number;
}

export function maxStoredSeq(db: SqliteDatabase, jobId: string): number {
  return (db.prepare("SELECT COALESCE(MAX(seq), 0) FROM job_logs WHERE job_id = ?").pluck().get(jobId) as number) ?? 0;
}

function isCapped(db: SqliteDatabase, jobId: string): boolean {
  return (
    db
      .prepare("SELECT 1 FROM job_logs WHERE job_id = ? AND stream = 'system' AND data LIKE ? LIMIT 1")
      .get(jobId, `${LOG_CAP_NOTE_PREFIX}%`) !== undefined
  );
}

/** Appends in one transaction; the caller announces new chunks after it returns. */
export function appendJobLogs(db: SqliteDatabase, jobId: string, input: AppendLogsInput): AppendLogsResult {
  return db.transaction((): AppendLogsResult => {
    let stored = maxStoredSeq(db, jobId);
    let capped = isCapped(db, jobId);
    let bytes = db
      .prepare("SELECT COALESCE(SUM(length(CAST(data AS BLOB))), 0) FROM job_logs WHERE job_id = ?")
      .pluck()
      .get(jobId) as number;
    const insert = db.prepare("INSERT INTO job_logs (job_id, seq, ts, stream, data) VALUES (?, ?, ?, ?, ?)");
    let inserted = 0;
    let highestSeen = stored;
    for (const entry of [...input.entries].sort((a, b) => a.seq - b.seq)) {
      highestSeen = Math.max(highestSeen, entry.seq);
      if (entry.seq <= stored || capped) continue;
      // A gap means a lost batch: store nothing past it, so the reply's stored_seq makes the guest resend.
      if (entry.seq !== stored + 1) break;
      const data = redactSecrets(entry.data, input.secrets);
      const size = Buffer.byteLength(data, "utf8");
      if (bytes + size > input.maxBytes) {
        insert.run(
          jobId,
          entry.seq,
          entry.ts,
          "system",
          `${LOG_CAP_NOTE_PREFIX} job_log_max_bytes (${input.maxBytes} bytes) reached; later output is only in the job's artifacts`,
        );
        capped = true;
      } else {
        insert.run(jobId, entry.seq, entry.ts, entry.stream, data);
        bytes += size;
      }
      stored = entry.seq;
      inserted += 1;
    }
    // Past the cap nothing more is stored, so every seq the guest sent counts as taken.
    return { storedSeq: capped ? Math.max(stored, highestSeen) : stored, inserted };
  })();
}

/** Chunks after `afterSeq`, in seq order. */
export function listJobLogs(db: SqliteDatabase, jobId: string, afterSeq: number, limit: number): StoredLogChunk[] {
  return db
    .prepare("SELECT seq, ts, stream, data FROM job_logs WHERE job_id = ? AND seq > ? ORDER BY seq LIMIT ?")
    .all(jobId, afterSeq, limit) as StoredLogChunk[];
}
