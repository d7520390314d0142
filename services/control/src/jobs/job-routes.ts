/** JobService: submit, read, list, cancel and watch jobs; list their artifacts. */
import { JobService } from "@agentlab/api";
import { InvalidArgumentError } from "@agentlab/core";
import type { ConnectRouter, HandlerContext } from "@connectrpc/connect";
import { listJobArtifacts } from "../artifacts/job-artifacts.js";
import type { SqliteDatabase } from "../db/open-database.js";
import type { Clock } from "../db/timestamps.js";
import type { EventBus } from "../events/event-bus.js";
import { eventToProto } from "../events/event-proto.js";
import { listEvents, MAX_EVENT_LIMIT } from "../events/event-store.js";
import type { ProfileRegistry } from "../profiles/profile-registry.js";
import type { SecretsBundleReader } from "../secrets/secrets-bundle.js";
import { cancelJob } from "./job-cancel.js";
import type { JobFinalizer } from "./job-finalizer.js";
import type { JobLogFeed } from "./job-log-feed.js";
import { jobStatusFromProto, jobToProto } from "./job-proto.js";
import { getJob, type JobRecord, listJobs } from "./job-store.js";
import { submitJob } from "./job-submission.js";
import { watchJob } from "./watch-job.js";

export interface JobRoutesDeps {
  db: SqliteDatabase;
  bus: EventBus;
  clock: Clock;
  profiles: ProfileRegistry;
  secrets: SecretsBundleReader;
  /** Shared with the guest routes: AppendLogs announces, WatchJob listens. */
  logFeed: JobLogFeed;
  finalizer: JobFinalizer;
  /** job_cancel_grace in ms (shown in the cancel event). */
  cancelGraceMs: number;
}

const DEFAULT_EVENTS_TAIL = 50;
const DEFAULT_PAGE = 100;
const MAX_PAGE = 1000;

function encodePageToken(job: JobRecord): string {
  return Buffer.from(JSON.stringify({ c: job.createdAt, i: job.id })).toString("base64url");
}

function decodePageToken(token: string): { createdAt: string; id: string } | undefined {
  if (!token) return undefined;
  try {
    const { c, i } = JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as { c: unknown; i: unknown };
    if (typeof c === "string" && typeof i === "string") return { createdAt: c, id: i };
  } catch {
    // fall through to the error below
  }
  throw new InvalidArgumentError({
    message: "invalid page_token",
    hint: "pass next_page_token from the previous response unchanged",
  });
}

function offset(value: bigint, field: string): number {
  if (value < 0n || value > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new InvalidArgumentError({
      message: `${field} ${value} is out of range`,
      what: field,
      hint: "use 0 or more",
    });
  }
  return Number(value);
}

export function registerJobRoutes(router: ConnectRouter, deps: JobRoutesDeps): void {
  const { db } = deps;
  router.service(JobService, {
    runJob(req) {
      const { job } = submitJob(deps, req);
      return { job: jobToProto(db, job) };
    },
    getJob(req) {
      const tail = req.eventsTail ?? DEFAULT_EVENTS_TAIL;
      if (tail < 0 || tail > MAX_EVENT_LIMIT) {
        throw new InvalidArgumentError({
          message: `events_tail ${tail} is out of range`,
          what: "events_tail",
          hint: `use 0..${MAX_EVENT_LIMIT}`,
        });
      }
      const job = getJob(db, req.jobId);
      const events = tail > 0 ? listEvents(db, { jobId: job.id, tail }) : [];
      return { job: jobToProto(db, job), events: events.map(eventToProto) };
    },
    listJobs(req) {
      if (req.pageSize < 0 || req.pageSize > MAX_PAGE) {
        throw new InvalidArgumentError({
          message: `page_size ${req.pageSize} is out of range`,
          what: "page_size",
          hint: `use 1..${MAX_PAGE}, or 0 for ${DEFAULT_PAGE}`,
        });
      }
      const limit = req.pageSize || DEFAULT_PAGE;
      const after = decodePageToken(req.pageToken);
      const rows = listJobs(db, {
        statuses: req.statuses.map(jobStatusFromProto),
        ...(req.profile ? { profile: req.profile } : {}),
        limit: limit + 1,
        ...(after ? { after } : {}),
      });
      const page = rows.slice(0, limit);
      const last = page.at(-1);
      return {
        jobs: page.map((job) => jobToProto(db, job)),
        nextPageToken: rows.length > limit && last ? encodePageToken(last) : "",
      };
    },
    cancelJob(req) {
      return { job: jobToProto(db, cancelJob(deps, req.jobId, req.reason)) };
    },
    async *watchJob(req, context: HandlerContext) {
      yield* watchJob(db, deps.bus, deps.logFeed, {
        jobId: req.jobId,
        afterEventId: offset(req.afterEventId, "after_event_id"),
        afterLogSeq: offset(req.afterLogSeq, "after_log_seq"),
        follow: req.follow ?? true,
        signal: context.signal,
      });
    },
    listJobArtifacts(req) {
      return listJobArtifacts(db, req.jobId);
    },
  });
}
