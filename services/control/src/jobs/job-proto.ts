/** Job rows as contract messages. */
import { type Job, JobResultSchema, JobSchema, JobStatus, type LogChunk, LogChunkSchema } from "@agentlab/api";
import { InvalidArgumentError } from "@agentlab/core";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { artifactToProto } from "../artifacts/artifact-proto.js";
import { listArtifactRows } from "../artifacts/artifact-store.js";
import type { SqliteDatabase } from "../db/open-database.js";
import { parseTimestamp } from "../db/timestamps.js";
import type { StoredLogChunk } from "./job-log-store.js";
import { decodeJobResult } from "./job-result.js";
import { isFinalStatus, JOB_STATUSES, type JobRecord, type JobStatusName } from "./job-store.js";

export function jobStatusToProto(status: string): JobStatus {
  const value = JobStatus[status as keyof typeof JobStatus];
  return typeof value === "number" ? value : JobStatus.UNSPECIFIED;
}

export function jobStatusFromProto(status: JobStatus): JobStatusName {
  const name = JobStatus[status] as string | undefined;
  if (!name || !(JOB_STATUSES as readonly string[]).includes(name)) {
    throw new InvalidArgumentError({
      message: `invalid job status ${status}`,
      what: "statuses",
      value: status,
      hint: `use one of ${JOB_STATUSES.join(", ")}`,
    });
  }
  return name as JobStatusName;
}

const ts = (text: string | null) => (text ? timestampFromDate(parseTimestamp(text)) : undefined);

/** The job as the API shows it; the result (with the artifacts table's rows) once it is final. */
export function jobToProto(db: SqliteDatabase, job: JobRecord): Job {
  const final = isFinalStatus(job.status);
  let result: Job["result"];
  if (final && job.resultJson) {
    const ours = decodeJobResult(job.resultJson);
    const artifacts = listArtifactRows(db, job.id).map(artifactToProto);
    result = ours
      ? create(JobResultSchema, {
          status: jobStatusToProto(ours.status),
          exitCode: ours.exitCode,
          durationSeconds: ours.durationSeconds,
          startCommit: ours.startCommit,
          finalCommit: ours.finalCommit,
          message: ours.message,
          artifacts,
        })
      : create(JobResultSchema, {
          status: jobStatusToProto(job.status),
          artifacts,
          legacyResultJson: job.resultJson,
        });
  }
  return create(JobSchema, {
    id: job.id,
    repoUrl: job.repoUrl,
    ref: job.ref,
    profile: job.profile,
    task: job.task,
    mode: job.mode,
    ttlMinutes: job.ttlMinutes ?? 0,
    keepalive: job.keepalive,
    status: jobStatusToProto(job.status),
    sandboxVmid: job.sandboxVmid ?? 0,
    createdAt: ts(job.createdAt),
    updatedAt: ts(job.updatedAt),
    startedAt: ts(job.startedAt),
    finishedAt: ts(job.finishedAt),
    agentCommand: job.agentCommand ?? "",
    secretsBundle: job.secretsBundle ?? "",
    failureReason: job.failureReason ?? "",
    cancelRequested: job.cancelRequestedAt !== null && !final,
    ...(result ? { result } : {}),
    workspaceId: job.workspaceId ?? "",
  });
}

export function logChunkToProto(chunk: StoredLogChunk): LogChunk {
  return create(LogChunkSchema, {
    seq: BigInt(chunk.seq),
    ts: ts(chunk.ts),
    stream: chunk.stream,
    data: chunk.data,
  });
}
