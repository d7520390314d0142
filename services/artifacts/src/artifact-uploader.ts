import { type Artifact, ArtifactSchema } from "@agentlab/api";
import { UnauthenticatedError } from "@agentlab/core/errors";
import { create } from "@bufbuild/protobuf";
import { timestampNow } from "@bufbuild/protobuf/wkt";
import type { StagedFile } from "./artifact-store.js";
import type { ArtifactsDeps } from "./artifacts-deps.js";
import { resolveMime } from "./mime-type.js";
import { baseName, checkJobId, sanitizeArtifactPath } from "./path-sanitizer.js";
import { callRegistry, registryError } from "./registry-errors.js";
import { type ExpectedContent, UploadTooLargeError, UploadVerifier } from "./upload-verifier.js";

/** One upload as both front doors (UploadArtifact and POST /upload) describe it. */
export interface UploadInput {
  token: string;
  /** As the guest sent it; sanitised here. Empty means the default bundle. */
  path: string;
  /** As the guest sent it; empty or undefined lets the server guess. */
  mime: string | undefined;
  /** The guest's address (or "unix"), passed to control for its event log. */
  sourceAddress: string;
  /** Content-Length, when the protocol announced one: refused up front if over the cap. */
  declaredSize?: number;
  /** The content, pulled one chunk at a time so a slow disk slows the sender. */
  body: AsyncIterable<Uint8Array>;
  /** What the uploader claims; read only after `body` is exhausted (the gRPC trailer comes last). */
  expected: () => ExpectedContent;
  /** Aborted when the client goes away; an upload whose client left is not committed. */
  signal?: AbortSignal;
}

export interface UploadResult {
  jobId: string;
  artifact: Artifact;
}

/**
 * The upload sequence: authorize with control before touching the disk, stream to a temp file in
 * the target folder while counting and hashing, verify, fsync, rename, record with control. Every
 * failure removes what was written, so success means exactly these bytes are stored and recorded.
 */
export function storeUpload(deps: ArtifactsDeps, input: UploadInput): Promise<UploadResult> {
  const upload = () => storeUploadUnmeasured(deps, input);
  return deps.uploadMetrics ? deps.uploadMetrics.observe(upload, (r) => r.artifact.sizeBytes) : upload();
}

async function storeUploadUnmeasured(deps: ArtifactsDeps, input: UploadInput): Promise<UploadResult> {
  const path = sanitizeArtifactPath(input.path);
  const mime = resolveMime(input.mime, path);
  if (input.token === "") {
    throw new UnauthenticatedError({
      message: "upload token missing",
      hint: "send the upload token from the bootstrap payload",
    });
  }
  if (input.declaredSize !== undefined && input.declaredSize > deps.maxBytes) {
    throw new UploadTooLargeError(deps.maxBytes, input.declaredSize, "declared");
  }
  const grant = await callRegistry(
    "AuthorizeUpload",
    deps.registry.authorizeUpload(
      { token: input.token, path, sourceAddress: input.sourceAddress },
      input.signal ? { signal: input.signal } : {},
    ),
  );
  const jobId = checkJobId(grant.jobId);
  const limit = grant.maxBytes > 0n ? Math.min(deps.maxBytes, Number(grant.maxBytes)) : deps.maxBytes;
  if (input.declaredSize !== undefined && input.declaredSize > limit) {
    throw new UploadTooLargeError(limit, input.declaredSize, "declared");
  }

  const staged = await deps.store.stage(jobId, path);
  let verified: { sizeBytes: number; sha256: string };
  try {
    verified = await receive(staged, new UploadVerifier(limit), input);
    await staged.commit();
  } catch (err) {
    await staged.discard();
    throw err;
  }

  let artifact: Artifact | undefined;
  try {
    const recorded = await deps.registry.recordArtifact({
      token: input.token,
      path,
      storedPath: staged.storedPath,
      sizeBytes: BigInt(verified.sizeBytes),
      sha256: verified.sha256,
      mime,
    });
    artifact = recorded.artifact;
  } catch (err) {
    // A file without its row would be invisible to downloads and retention: take it back.
    await staged.discard();
    throw registryError("RecordArtifact", err, "; the stored file was removed, retry the upload");
  }
  deps.logger?.info(
    { job_id: jobId, path, stored_path: staged.storedPath, size_bytes: verified.sizeBytes, sha256: verified.sha256 },
    "artifact stored",
  );
  return {
    jobId,
    artifact:
      artifact ??
      create(ArtifactSchema, {
        jobId,
        vmid: grant.vmid,
        name: baseName(path),
        path,
        sizeBytes: BigInt(verified.sizeBytes),
        sha256: verified.sha256,
        mime,
        createdAt: timestampNow(),
      }),
  };
}

async function receive(
  staged: StagedFile,
  verifier: UploadVerifier,
  input: UploadInput,
): Promise<{ sizeBytes: number; sha256: string }> {
  for await (const chunk of input.body) {
    verifier.update(chunk);
    await staged.write(chunk);
  }
  const verified = verifier.verify(input.expected());
  input.signal?.throwIfAborted();
  return verified;
}
