import {
  type DeleteArtifactsRequest,
  type DeleteArtifactsResponse,
  DeleteArtifactsResponseSchema,
} from "@agentlab/api";
import { InvalidArgumentError } from "@agentlab/core/errors";
import { create } from "@bufbuild/protobuf";
import type { HandlerContext } from "@connectrpc/connect";
import type { ArtifactsDeps } from "./artifacts-deps.js";
import { checkJobId, checkStoredPath } from "./path-sanitizer.js";
import { callRegistry } from "./registry-errors.js";

export type DeleteArtifactsHandler = (
  req: DeleteArtifactsRequest,
  context: HandlerContext,
) => Promise<DeleteArtifactsResponse>;

interface Target {
  id: bigint | undefined;
  /** Undefined for an id control no longer lists: no file of it can be found, so it is gone. */
  storedPath: string | undefined;
}

/**
 * ArtifactService.DeleteArtifacts, for control's retention. A file already missing counts as
 * deleted (control may retry after a crash); a file that cannot be removed is left out of
 * deleted_ids so control keeps its row. Job folders left empty are removed.
 */
export function createDeleteHandler(deps: ArtifactsDeps): DeleteArtifactsHandler {
  return async (req, context) => {
    const jobId = checkJobId(req.jobId);
    const targets = await resolveTargets(deps, req, jobId, context.signal);
    const deletedIds: bigint[] = [];
    let freedBytes = 0;
    const touched = new Set<string>();
    for (const target of targets) {
      if (target.storedPath === undefined) {
        if (target.id !== undefined) deletedIds.push(target.id);
        continue;
      }
      try {
        freedBytes += await deps.store.remove(target.storedPath);
        if (target.id !== undefined) deletedIds.push(target.id);
        touched.add(target.storedPath);
      } catch (err) {
        deps.logger?.warn({ err, job_id: jobId, stored_path: target.storedPath }, "artifact file not removed");
      }
    }
    for (const storedPath of touched) await deps.store.removeEmptyDirs(storedPath);
    deps.logger?.info({ job_id: jobId, deleted: deletedIds.length, freed_bytes: freedBytes }, "artifacts deleted");
    return create(DeleteArtifactsResponseSchema, { deletedIds, freedBytes: BigInt(freedBytes) });
  };
}

async function resolveTargets(
  deps: ArtifactsDeps,
  req: DeleteArtifactsRequest,
  jobId: string,
  signal: AbortSignal,
): Promise<Target[]> {
  if (req.storedPaths.length > 0) {
    if (req.artifactIds.length > 0 && req.artifactIds.length !== req.storedPaths.length) {
      throw new InvalidArgumentError({
        message: "artifact_ids and stored_paths must be parallel lists",
        what: "lengths",
        value: `${req.artifactIds.length} ids, ${req.storedPaths.length} stored paths`,
        hint: "send one stored path per id, or only ids and let the service look the paths up",
      });
    }
    // Every path is checked before anything is removed: one bad entry refuses the whole call.
    return req.storedPaths.map((storedPath, i) => ({
      id: req.artifactIds[i],
      storedPath: checkStoredPath(storedPath, jobId),
    }));
  }
  const listed = await callRegistry("ListArtifacts", deps.registry.listArtifacts({ jobId }, { signal }));
  const wanted = new Set(req.artifactIds);
  const targets: Target[] = [];
  for (const row of listed.artifacts) {
    const artifact = row.artifact;
    if (!artifact || (wanted.size > 0 && !wanted.has(artifact.id))) continue;
    wanted.delete(artifact.id);
    targets.push({
      id: artifact.id,
      storedPath: checkStoredPath(row.storedPath || `${jobId}/${artifact.path}`, jobId),
    });
  }
  for (const id of wanted) targets.push({ id, storedPath: undefined });
  return targets;
}
