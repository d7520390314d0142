/**
 * WatchJob's stream: the job first, then its events and log chunks after the given offsets, a job
 * snapshot on every status change, and the job last. Like watchEvents: subscribe to the wake-ups
 * first, then read the backlog, and on every wake-up read again after the last id/seq delivered, so
 * nothing committed after the call began is missed and nothing is sent twice. The bus and the log
 * feed only wake the watcher; the database is the source of truth.
 *
 * Ending: the job's status is read BEFORE each drain. Once a drain has followed a read that saw a
 * final status, everything the job's ending transaction committed has been sent (its event included),
 * so the stream sends the final snapshot and ends.
 */
import type { WatchJobResponse } from "@agentlab/api";
import { WatchJobResponseSchema } from "@agentlab/api";
import { create } from "@bufbuild/protobuf";
import type { SqliteDatabase } from "../db/open-database.js";
import type { EventBus } from "../events/event-bus.js";
import { eventToProto } from "../events/event-proto.js";
import { listEvents, MAX_EVENT_LIMIT } from "../events/event-store.js";
import type { JobLogFeed } from "./job-log-feed.js";
import { listJobLogs } from "./job-log-store.js";
import { jobToProto, logChunkToProto } from "./job-proto.js";
import { getJob, isFinalStatus } from "./job-store.js";

export interface WatchJobOptions {
  jobId: string;
  afterEventId: number;
  afterLogSeq: number;
  follow: boolean;
  signal?: AbortSignal;
}

const LOG_PAGE = 1000;

export async function* watchJob(
  db: SqliteDatabase,
  bus: EventBus,
  logs: JobLogFeed,
  options: WatchJobOptions,
): AsyncGenerator<WatchJobResponse, void, undefined> {
  const { jobId, signal } = options;
  let stale = true;
  let wake: (() => void) | undefined;
  const notify = (): void => {
    const resolve = wake;
    wake = undefined;
    resolve?.();
  };
  const offEvents = bus.subscribe((event) => {
    if (event.jobId !== jobId) return;
    stale = true;
    notify();
  });
  const offLogs = logs.subscribe((id) => {
    if (id !== jobId) return;
    stale = true;
    notify();
  });
  signal?.addEventListener("abort", notify);
  try {
    const first = getJob(db, jobId); // NOT_FOUND before anything is sent
    yield create(WatchJobResponseSchema, { update: { case: "job", value: jobToProto(db, first) } });
    let lastStatus = first.status;
    let lastEventId = options.afterEventId;
    let lastLogSeq = options.afterLogSeq;
    let sentSinceSnapshot = false;
    while (!signal?.aborted) {
      if (!stale) {
        await new Promise<void>((resolve) => {
          wake = resolve;
          if (stale || signal?.aborted) notify();
        });
        continue;
      }
      stale = false;
      const job = getJob(db, jobId);
      for (;;) {
        const page = listEvents(db, { jobId, after: lastEventId, limit: MAX_EVENT_LIMIT });
        for (const event of page) {
          lastEventId = event.id;
          sentSinceSnapshot = true;
          yield create(WatchJobResponseSchema, { update: { case: "event", value: eventToProto(event) } });
          if (signal?.aborted) return;
        }
        if (page.length < MAX_EVENT_LIMIT) break;
      }
      for (;;) {
        const page = listJobLogs(db, jobId, lastLogSeq, LOG_PAGE);
        for (const chunk of page) {
          lastLogSeq = chunk.seq;
          sentSinceSnapshot = true;
          yield create(WatchJobResponseSchema, { update: { case: "log", value: logChunkToProto(chunk) } });
          if (signal?.aborted) return;
        }
        if (page.length < LOG_PAGE) break;
      }
      const final = isFinalStatus(job.status);
      if (job.status !== lastStatus || ((final || !options.follow) && sentSinceSnapshot)) {
        lastStatus = job.status;
        sentSinceSnapshot = false;
        yield create(WatchJobResponseSchema, { update: { case: "job", value: jobToProto(db, job) } });
      }
      if (final || !options.follow) return;
    }
  } finally {
    offEvents();
    offLogs();
    signal?.removeEventListener("abort", notify);
  }
}
