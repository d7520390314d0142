/** Retention's DeleteArtifacts call through an ArtifactService client (any transport). */
import type { ArtifactService } from "@agentlab/api";
import type { Client } from "@connectrpc/connect";
import type { DeleteArtifactFiles } from "./artifact-retention.js";

/** Per call, so a hung artifacts service cannot stall the retention loop for ever. */
export const DELETE_ARTIFACTS_TIMEOUT_MS = 60_000;

export function createArtifactDeleter(
  client: Client<typeof ArtifactService>,
  timeoutMs = DELETE_ARTIFACTS_TIMEOUT_MS,
): DeleteArtifactFiles {
  return async (jobId, ids, storedPaths) => {
    // Ids and stored paths are both sent: with ids alone the service would ask control again.
    const res = await client.deleteArtifacts({ jobId, artifactIds: ids, storedPaths }, { timeoutMs });
    return { deletedIds: res.deletedIds };
  };
}
