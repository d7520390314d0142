import {
  type DownloadArtifactRequest,
  type DownloadArtifactResponse,
  DownloadArtifactResponseSchema,
} from "@agentlab/api";
import { toConnectError } from "@agentlab/core/errors";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import { selectArtifact } from "./artifact-selector.js";
import type { ArtifactsDeps } from "./artifacts-deps.js";
import { checkJobId, checkStoredPath } from "./path-sanitizer.js";
import { callRegistry } from "./registry-errors.js";

/**
 * Content message size. Each message costs connect-node a fixed amount of CPU (encode, envelope,
 * stream write, on both ends), which made 64 KiB messages slow in earlier measurements. But each
 * message is also copied twice into fresh buffers (protobuf encoding, then gRPC framing), and 1 MiB
 * copies do not fit the holes that uploads' 64 KiB buffers leave in the malloc heap: a 1 GiB
 * download grew the service's RSS by ~20 MiB (to a 144-150 MiB peak in the artifacts bench) and
 * was no faster. At 256 KiB the same download adds ~2 MiB and runs at the same speed.
 */
export const DOWNLOAD_CHUNK_BYTES = 256 * 1024;

export type DownloadArtifactHandler = (
  req: DownloadArtifactRequest,
  context: HandlerContext,
) => AsyncIterable<DownloadArtifactResponse>;

/**
 * ArtifactService.DownloadArtifact: the artifact first (so the client can verify at the end), then
 * the content in 256 KiB chunks, read as the client consumes them.
 */
export function createDownloadHandler(deps: ArtifactsDeps): DownloadArtifactHandler {
  return async function* downloadArtifact(req, context) {
    try {
      yield* streamArtifact(deps, req, context);
    } catch (err) {
      // Errors raised while a server stream is being iterated bypass the error-mapping interceptor
      // (it only sees the call start), so domain errors are mapped here.
      throw toConnectError(err);
    }
  };
}

async function* streamArtifact(
  deps: ArtifactsDeps,
  req: DownloadArtifactRequest,
  context: HandlerContext,
): AsyncGenerator<DownloadArtifactResponse> {
  const jobId = checkJobId(req.jobId);
  const listed = await callRegistry(
    "ListArtifacts",
    deps.registry.listArtifacts({ jobId }, { signal: context.signal }),
  );
  const row = selectArtifact(jobId, listed.artifacts, req.selector);
  const artifact = row.artifact;
  if (!artifact) throw new Error("unreachable: selectArtifact returns rows with an artifact");
  // Rows migrated from the original carry no stored path: their file is <job_id>/<path>.
  const storedPath = checkStoredPath(row.storedPath || `${jobId}/${artifact.path}`, jobId);
  const { handle, size } = await deps.store.openForRead(storedPath);
  try {
    if (BigInt(size) !== artifact.sizeBytes) {
      throw new ConnectError(
        `artifact ${artifact.id} is damaged on disk: recorded as ${artifact.sizeBytes} bytes, the file has ${size} (stored_path: ${storedPath}); restore it from backup or re-run the job`,
        Code.DataLoss,
      );
    }
    yield create(DownloadArtifactResponseSchema, { part: { case: "artifact", value: artifact } });
    // One buffer for the whole download. Connect serializes a yielded message (protobuf encoding
    // copies the bytes out) before it asks for the next one, so the buffer is free again when this
    // generator resumes; the socket holds the encoded copy, never this buffer. A fresh buffer per
    // message only added garbage for the GC to catch up with (a third of what a download allocates).
    const buffer = Buffer.allocUnsafe(Math.min(DOWNLOAD_CHUNK_BYTES, size));
    let position = 0;
    while (position < size) {
      const { bytesRead } = await handle.read(buffer, 0, Math.min(buffer.length, size - position), position);
      if (bytesRead === 0) break;
      position += bytesRead;
      yield create(DownloadArtifactResponseSchema, { part: { case: "chunk", value: buffer.subarray(0, bytesRead) } });
    }
  } finally {
    await handle.close();
  }
}
