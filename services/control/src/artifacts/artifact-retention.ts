/**
 * The retention loop: control decides which artifacts are past retention, the artifacts service
 * removes the files (DeleteArtifacts), and only then does control delete the rows it was told are
 * gone. A failed or partial delete keeps the rest of the rows, so a row never points to nothing
 * that retention believes removed, and the next run retries.
 */
import type { Logger } from "@agentlab/core";
import type { SqliteDatabase } from "../db/open-database.js";
import { type Clock, formatTimestamp } from "../db/timestamps.js";
import type { EventBus } from "../events/event-bus.js";
import { appendEvent, type StoredEvent } from "../events/event-store.js";
import { deleteArtifactRows } from "./artifact-store.js";
import { expiredArtifactsOfJob, finalJobsWithArtifacts, type RetentionArtifact } from "./retention-candidates.js";

/** Rows handled per run: one run stays short, and a backlog drains over the next runs. */
export const DEFAULT_RETENTION_BATCH = 500;
/** The original ran artifact GC every 10 minutes. */
export const DEFAULT_RETENTION_INTERVAL_MS = 10 * 60_000;

export type DeleteArtifactFiles = (
  jobId: string,
  ids: bigint[],
  storedPaths: string[],
) => Promise<{ deletedIds: bigint[] }>;

/** setInterval/clearInterval, injectable so tests tick the loop themselves. */
export interface RetentionTimer {
  setInterval(callback: () => void, ms: number): unknown;
  clearInterval(handle: unknown): void;
}

export interface ArtifactRetentionDeps {
  readonly db: SqliteDatabase;
  readonly bus: EventBus;
  readonly clock: Clock;
  /** Retention in minutes for a profile; undefined = keep forever (the default, and unknown profiles). */
  readonly profiles: (name: string) => number | undefined;
  readonly deleteArtifacts: DeleteArtifactFiles;
  readonly logger: Logger;
  readonly batchSize?: number;
  readonly timer?: RetentionTimer;
}

export interface RetentionRunResult {
  /** Rows deleted (their files confirmed gone). */
  readonly deleted: number;
  /** Bytes of those rows. */
  readonly bytes: number;
  /** Jobs whose DeleteArtifacts call failed; their rows are kept for the next run. */
  readonly failedJobs: readonly string[];
}

export interface ArtifactRetention {
  /** One pass; a call while a pass is running joins it instead of starting another. */
  runOnce(): Promise<RetentionRunResult>;
  /** Runs a pass now and then every `intervalMs`. */
  start(intervalMs?: number): void;
  /** Stops the timer and waits for a running pass. */
  stop(): Promise<void>;
}

const systemTimer: RetentionTimer = {
  setInterval(callback, ms) {
    const handle = setInterval(callback, ms);
    handle.unref(); // never the reason the process stays up
    return handle;
  },
  clearInterval(handle) {
    clearInterval(handle as NodeJS.Timeout);
  },
};

export function createArtifactRetention(deps: ArtifactRetentionDeps): ArtifactRetention {
  const batchSize = deps.batchSize ?? DEFAULT_RETENTION_BATCH;
  const timer = deps.timer ?? systemTimer;
  let running: Promise<RetentionRunResult> | undefined;
  let handle: unknown;

  /** Rows we asked about and were told are gone; ids we did not ask about are ignored. */
  function removeConfirmed(
    jobId: string,
    sandboxVmid: number | null,
    asked: RetentionArtifact[],
    deletedIds: bigint[],
  ): { count: number; bytes: number } {
    const confirmed = new Set(deletedIds.map(String));
    const gone = asked.filter((a) => confirmed.has(String(a.id)));
    if (gone.length === 0) return { count: 0, bytes: 0 };
    const bytes = gone.reduce((sum, a) => sum + a.sizeBytes, 0);
    let event: StoredEvent | undefined;
    deps.db.transaction(() => {
      const count = deleteArtifactRows(
        deps.db,
        gone.map((a) => a.id),
      );
      event = appendEvent(
        deps.db,
        {
          kind: "artifact.gc",
          jobId,
          ...(sandboxVmid !== null && sandboxVmid > 0 && { sandboxVmid }),
          msg: `removed ${count} artifact${count === 1 ? "" : "s"} (${bytes} bytes) past retention`,
          payload: { count, bytes },
        },
        deps.clock,
      );
    })();
    if (event) deps.bus.publish(event);
    return { count: gone.length, bytes };
  }

  /** A lookup that fails or answers nonsense keeps the job's artifacts, as "keep forever" does. */
  function retentionOf(profile: string): number | undefined {
    try {
      const minutes = deps.profiles(profile);
      return minutes !== undefined && Number.isFinite(minutes) && minutes > 0 ? minutes : undefined;
    } catch (err) {
      deps.logger.warn({ err, profile }, "artifact retention: profile lookup failed; artifacts kept");
      return undefined;
    }
  }

  async function pass(): Promise<RetentionRunResult> {
    const now = deps.clock();
    let budget = batchSize;
    let deleted = 0;
    let bytes = 0;
    const failedJobs: string[] = [];
    for (const job of finalJobsWithArtifacts(deps.db)) {
      if (budget <= 0) break;
      const minutes = retentionOf(job.profile);
      if (minutes === undefined) continue;
      const cutoff = formatTimestamp(new Date(now.getTime() - minutes * 60_000));
      const expired = expiredArtifactsOfJob(deps.db, job.jobId, cutoff, budget);
      if (expired.length === 0) continue;
      budget -= expired.length;
      let deletedIds: bigint[];
      try {
        ({ deletedIds } = await deps.deleteArtifacts(
          job.jobId,
          expired.map((a) => BigInt(a.id)),
          expired.map((a) => a.storedPath),
        ));
      } catch (err) {
        failedJobs.push(job.jobId);
        deps.logger.warn(
          { err, job_id: job.jobId, artifacts: expired.length },
          "artifact retention: delete failed; rows kept",
        );
        continue;
      }
      const removed = removeConfirmed(job.jobId, job.sandboxVmid, expired, deletedIds);
      if (removed.count < expired.length) {
        deps.logger.warn(
          { job_id: job.jobId, asked: expired.length, deleted: removed.count },
          "artifact retention: some files were not removed; their rows are kept",
        );
      }
      deleted += removed.count;
      bytes += removed.bytes;
    }
    if (deleted > 0 || failedJobs.length > 0) {
      deps.logger.info({ deleted, bytes, failed_jobs: failedJobs.length }, "artifact retention pass");
    }
    return { deleted, bytes, failedJobs };
  }

  function runOnce(): Promise<RetentionRunResult> {
    running ??= pass().finally(() => {
      running = undefined;
    });
    return running;
  }

  function tick(): void {
    runOnce().catch((err: unknown) => deps.logger.error({ err }, "artifact retention pass failed"));
  }

  return {
    runOnce,
    start(intervalMs = DEFAULT_RETENTION_INTERVAL_MS) {
      if (handle !== undefined) return;
      if (!(intervalMs > 0)) throw new RangeError(`artifact retention: interval ${intervalMs} ms must be positive`);
      handle = timer.setInterval(tick, intervalMs);
      tick();
    },
    async stop() {
      if (handle !== undefined) timer.clearInterval(handle);
      handle = undefined;
      await running?.catch(() => undefined);
    },
  };
}
