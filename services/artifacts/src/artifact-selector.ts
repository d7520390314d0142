import type { DownloadArtifactRequest, StoredArtifact } from "@agentlab/api";
import { NotFoundError } from "@agentlab/core/errors";
import { DEFAULT_ARTIFACT_PATH, sanitizeArtifactPath } from "./path-sanitizer.js";

/**
 * Chooses the artifact a download asks for among a job's rows: by exact id, by path, by base name,
 * or (with no selector) the bundle. Several uploads of one path are all kept; the latest (highest
 * id) wins.
 */
export function selectArtifact(
  jobId: string,
  rows: readonly StoredArtifact[],
  selector: DownloadArtifactRequest["selector"],
): StoredArtifact {
  let matches: (row: StoredArtifact) => boolean;
  let described: string;
  switch (selector.case) {
    case "artifactId":
      matches = (row) => row.artifact?.id === selector.value;
      described = `id ${selector.value}`;
      break;
    case "path": {
      const path = sanitizeArtifactPath(selector.value);
      matches = (row) => row.artifact?.path === path;
      described = `path ${JSON.stringify(path)}`;
      break;
    }
    case "name":
      matches = (row) => row.artifact?.name === selector.value;
      described = `name ${JSON.stringify(selector.value)}`;
      break;
    default:
      matches = (row) => row.artifact?.name === DEFAULT_ARTIFACT_PATH;
      described = `the bundle ${DEFAULT_ARTIFACT_PATH}`;
  }
  let latest: StoredArtifact | undefined;
  for (const row of rows) {
    if (!row.artifact || !matches(row)) continue;
    if (!latest?.artifact || row.artifact.id > latest.artifact.id) latest = row;
  }
  if (!latest) {
    throw new NotFoundError({
      message: `job ${jobId} has no artifact with ${described}`,
      what: "artifact",
      value: described,
      hint: `list the job's artifacts (agentlab job artifacts ${jobId}) and choose by path, name or id`,
    });
  }
  return latest;
}
