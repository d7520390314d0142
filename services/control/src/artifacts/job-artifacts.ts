/** A job's artifacts as the contracts return them: JobService (CLI) and ArtifactRegistryService (peers). */
import {
  type ListArtifactsResponse,
  ListArtifactsResponseSchema,
  type ListJobArtifactsResponse,
  ListJobArtifactsResponseSchema,
} from "@agentlab/api";
import { InvalidArgumentError, NotFoundError } from "@agentlab/core";
import { create } from "@bufbuild/protobuf";
import type { SqliteDatabase } from "../db/open-database.js";
import { artifactToProto, storedArtifactToProto } from "./artifact-proto.js";
import { type ArtifactRow, listArtifactRows } from "./artifact-store.js";
import { jobExists } from "./job-finality.js";

function rowsOfExistingJob(db: SqliteDatabase, jobId: string): ArtifactRow[] {
  if (jobId === "") {
    throw new InvalidArgumentError({
      message: "job_id is required",
      what: "job_id",
      hint: "pass a job id like job_0123456789abcdef",
    });
  }
  // Read both in one transaction so a job deleted in between cannot look like one without artifacts.
  return db.transaction(() => {
    if (!jobExists(db, jobId)) {
      throw new NotFoundError({
        message: `job ${jobId} not found`,
        what: "job",
        value: jobId,
        hint: "list jobs with `agentlab job list`",
      });
    }
    return listArtifactRows(db, jobId);
  })();
}

/** JobService.ListJobArtifacts: oldest first; NOT_FOUND when the job does not exist. */
export function listJobArtifacts(db: SqliteDatabase, jobId: string): ListJobArtifactsResponse {
  return create(ListJobArtifactsResponseSchema, { artifacts: rowsOfExistingJob(db, jobId).map(artifactToProto) });
}

/** ArtifactRegistryService.ListArtifacts: with stored paths (`<job_id>/<path>` for migrated rows). */
export function listStoredArtifacts(db: SqliteDatabase, jobId: string): ListArtifactsResponse {
  return create(ListArtifactsResponseSchema, {
    artifacts: rowsOfExistingJob(db, jobId).map(storedArtifactToProto),
  });
}
