/**
 * GuestService: what the guest runner inside a sandbox calls (served on bootstrap_listen and, for
 * local sandboxes, control's guest socket). Every call carries a token: the one-time bootstrap token
 * for FetchBootstrap, the job's report token for ReportStatus and AppendLogs.
 */
import { GuestJobStatus, GuestService } from "@agentlab/api";
import { InvalidArgumentError, type Logger, NotFoundError, UnauthenticatedError } from "@agentlab/core";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import type { ConnectRouter } from "@connectrpc/connect";
import { mintUploadToken } from "../artifacts/upload-token-store.js";
import type { SqliteDatabase } from "../db/open-database.js";
import { type Clock, formatTimestamp } from "../db/timestamps.js";
import type { EventBus } from "../events/event-bus.js";
import { appendEvent } from "../events/event-store.js";
import type { JobFinalizer } from "../jobs/job-finalizer.js";
import type { JobLogFeed } from "../jobs/job-log-feed.js";
import { appendJobLogs, LOG_STREAMS, type StoredLogChunk } from "../jobs/job-log-store.js";
import type { JobSettings } from "../jobs/job-settings.js";
import { DEFAULT_JOB_TTL_MINUTES } from "../jobs/job-settings.js";
import { getJob, isFinalStatus, type JobRecord, recordHeartbeat } from "../jobs/job-store.js";
import { checkReportToken, mintReportToken, reportTokenTtlMs } from "../jobs/report-tokens.js";
import type { ProfileRegistry } from "../profiles/profile-registry.js";
import type { SecretsBundleReader } from "../secrets/secrets-bundle.js";
import { checkBootstrapToken, consumeBootstrapToken } from "../tokens/bootstrap-tokens.js";
import { bootstrapResponse, resolvePayloadParts } from "./bootstrap-payload.js";
import { applyGuestReport, type ReportedStatus } from "./guest-report.js";

export interface GuestRoutesDeps {
  db: SqliteDatabase;
  bus: EventBus;
  clock: Clock;
  profiles: ProfileRegistry;
  secrets: SecretsBundleReader;
  finalizer: JobFinalizer;
  /** Shared with the job routes: AppendLogs announces here, WatchJob listens. */
  logFeed: JobLogFeed;
  settings: JobSettings;
  logger: Logger;
}

/** AppendLogsRequest's documented limit. */
export const MAX_APPEND_BYTES = 1024 * 1024;

const REPORTED: Partial<Record<GuestJobStatus, ReportedStatus>> = {
  [GuestJobStatus.RUNNING]: "RUNNING",
  [GuestJobStatus.COMPLETED]: "COMPLETED",
  [GuestJobStatus.FAILED]: "FAILED",
  [GuestJobStatus.TIMEOUT]: "TIMEOUT",
  [GuestJobStatus.CANCELED]: "CANCELED",
};

function requireVmid(vmid: number): void {
  if (vmid <= 0) {
    throw new InvalidArgumentError({ message: "vmid must be a positive VMID", what: "vmid", value: vmid });
  }
}

/** What the guest is told about a cancel: only while the job still runs. */
const cancelRequested = (job: JobRecord) => job.cancelRequestedAt !== null && !isFinalStatus(job.status);

export function registerGuestRoutes(router: ConnectRouter, deps: GuestRoutesDeps): void {
  const { db, bus, clock, settings } = deps;

  router.service(GuestService, {
    fetchBootstrap(req) {
      requireVmid(req.vmid);
      const now = clock();
      const token = checkBootstrapToken(db, req.token, req.vmid, now);
      if (!token.jobId) {
        throw new NotFoundError({
          message: `no job assigned to sandbox ${req.vmid}`,
          what: "vmid",
          value: req.vmid,
          hint: "a bare sandbox: the guest has nothing to run",
        });
      }
      // Everything that reads (and may fail) happens before anything is written or the token spent.
      const parts = resolvePayloadParts(deps, getJob(db, token.jobId), req.vmid);
      const { job } = parts;
      const ttlMinutes = job.ttlMinutes ?? DEFAULT_JOB_TTL_MINUTES;
      const { tokens, event } = db.transaction(() => {
        const minted = {
          reportToken: mintReportToken(
            db,
            { jobId: job.id, vmid: req.vmid },
            now,
            reportTokenTtlMs(ttlMinutes, settings.uploadGraceMs),
          ),
          uploadToken: mintUploadToken(db, { jobId: job.id, vmid: req.vmid }, now, settings.artifactTokenTtlMs),
        };
        if (!consumeBootstrapToken(db, req.token, now)) {
          // A concurrent fetch won: roll back the tokens minted for this one.
          throw new UnauthenticatedError({
            message: "bootstrap token refused: unknown, already used, expired or issued for another sandbox",
          });
        }
        recordHeartbeat(db, job.id, formatTimestamp(now));
        const fetched = appendEvent(
          db,
          { kind: "job.bootstrap", jobId: job.id, sandboxVmid: req.vmid, msg: "guest fetched its bootstrap payload" },
          clock,
        );
        return { tokens: minted, event: fetched };
      })();
      bus.publish(event);
      return bootstrapResponse(parts, tokens, settings, now);
    },

    reportStatus(req) {
      requireVmid(req.vmid);
      checkReportToken(db, req.reportToken, req.jobId, req.vmid, clock());
      const status = REPORTED[req.status];
      if (!status) {
        throw new InvalidArgumentError({
          message: `status ${req.status} cannot be reported`,
          what: "status",
          hint: "report RUNNING, COMPLETED, FAILED, TIMEOUT or CANCELED",
        });
      }
      const job = getJob(db, req.jobId);
      const after = applyGuestReport(
        deps,
        req.jobId,
        req.vmid,
        {
          status,
          message: req.message,
          exitCode: req.exitCode,
          durationSeconds: req.durationSeconds,
          startCommit: req.startCommit,
          finalCommit: req.finalCommit,
        },
        deps.secrets.valuesFor(job.secretsBundle),
      );
      return { cancelRequested: cancelRequested(after), jobStatus: after.status };
    },

    appendLogs(req) {
      requireVmid(req.vmid);
      const now = clock();
      checkReportToken(db, req.reportToken, req.jobId, req.vmid, now);
      let bytes = 0;
      const entries: StoredLogChunk[] = req.entries.map((entry) => {
        bytes += Buffer.byteLength(entry.data, "utf8");
        if (entry.seq < 1n || entry.seq > BigInt(Number.MAX_SAFE_INTEGER)) {
          throw new InvalidArgumentError({
            message: `log seq ${entry.seq} is out of range`,
            what: "seq",
            hint: "seq starts at 1",
          });
        }
        if (!(LOG_STREAMS as readonly string[]).includes(entry.stream)) {
          throw new InvalidArgumentError({
            message: `unknown log stream ${JSON.stringify(entry.stream)}`,
            what: "stream",
            hint: `use one of ${LOG_STREAMS.join(", ")}`,
          });
        }
        return {
          seq: Number(entry.seq),
          ts: formatTimestamp(entry.ts ? timestampDate(entry.ts) : now),
          stream: entry.stream,
          data: entry.data,
        };
      });
      if (bytes > MAX_APPEND_BYTES) {
        throw new InvalidArgumentError({
          message: `AppendLogs carries ${bytes} bytes`,
          what: "entries",
          hint: `send at most ${MAX_APPEND_BYTES} bytes per call`,
        });
      }
      const job = getJob(db, req.jobId);
      const result = appendJobLogs(db, job.id, {
        entries,
        maxBytes: settings.logMaxBytes,
        secrets: deps.secrets.valuesFor(job.secretsBundle),
      });
      if (!isFinalStatus(job.status)) recordHeartbeat(db, job.id, formatTimestamp(now));
      if (result.inserted > 0) deps.logFeed.publish(job.id);
      return { cancelRequested: cancelRequested(job), storedSeq: BigInt(result.storedSeq) };
    },
  });
}
