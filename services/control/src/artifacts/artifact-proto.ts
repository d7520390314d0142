/** Artifact rows as contract messages. */
import { type Artifact, ArtifactSchema, type StoredArtifact, StoredArtifactSchema } from "@agentlab/api";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { parseTimestamp } from "../db/timestamps.js";
import { type ArtifactRow, storedPathOf } from "./artifact-store.js";

/** The contract's word for "unknown type"; migrated rows may have no mime. */
export const UNKNOWN_MIME = "application/octet-stream";

export function artifactToProto(row: ArtifactRow): Artifact {
  return create(ArtifactSchema, {
    id: BigInt(row.id),
    jobId: row.jobId,
    vmid: row.vmid ?? 0,
    name: row.name,
    path: row.path,
    sizeBytes: BigInt(row.sizeBytes),
    sha256: row.sha256,
    mime: row.mime || UNKNOWN_MIME,
    createdAt: timestampFromDate(parseTimestamp(row.createdAt)),
  });
}

export function storedArtifactToProto(row: ArtifactRow): StoredArtifact {
  return create(StoredArtifactSchema, { artifact: artifactToProto(row), storedPath: storedPathOf(row) });
}
