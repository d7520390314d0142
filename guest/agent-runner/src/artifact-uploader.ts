import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { basename } from "node:path";
import {
  ArtifactService,
  type GuestArtifact,
  GuestArtifactSchema,
  type UploadArtifactRequest,
  UploadArtifactRequestSchema,
  UploadHeaderSchema,
  UploadTrailerSchema,
} from "@agentlab/api";
import { create } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { errorMessage, GuestError } from "./guest-error.js";
import type { TransportFactory } from "./guest-transport.js";
import { type RetryPolicy, type Sleep, withRetry } from "./retry-policy.js";

/** The recommended chunk size of the upload contract. */
export const UPLOAD_CHUNK_BYTES = 64 * 1024;

/** Client-streaming uploads may legitimately take long; this bounds a stuck one. */
const UPLOAD_TIMEOUT_MS = 10 * 60_000;

export interface UploadRequest {
  /** Local file. */
  file: string;
  /** Path relative to the job's artifact folder. */
  path: string;
  mime: string;
}

export interface ArtifactUploaderOptions {
  endpoint: string;
  token: string;
  /** Largest upload accepted; 0 means the server's limit is unknown. */
  maxBytes: bigint;
  createTransport: TransportFactory;
  sleep: Sleep;
  retry: RetryPolicy;
  log: (line: string) => void;
}

async function* uploadMessages(
  request: UploadRequest,
  token: string,
  digest: { sha256: string; size: bigint },
): AsyncGenerator<UploadArtifactRequest> {
  yield create(UploadArtifactRequestSchema, {
    part: { case: "header", value: create(UploadHeaderSchema, { token, path: request.path, mime: request.mime }) },
  });
  const hash = createHash("sha256");
  let size = 0n;
  for await (const chunk of createReadStream(request.file, { highWaterMark: UPLOAD_CHUNK_BYTES })) {
    const bytes = chunk as Buffer;
    hash.update(bytes);
    size += BigInt(bytes.length);
    yield create(UploadArtifactRequestSchema, { part: { case: "chunk", value: new Uint8Array(bytes) } });
  }
  // The trailer describes exactly the bytes sent, even if the file changed since it was measured.
  digest.sha256 = hash.digest("hex");
  digest.size = size;
  yield create(UploadArtifactRequestSchema, {
    part: { case: "trailer", value: create(UploadTrailerSchema, { sizeBytes: size, sha256: digest.sha256 }) },
  });
}

/** Uploads job artifacts to the artifacts service with the job's upload token. */
export class ArtifactUploader {
  private readonly client;

  constructor(private readonly options: ArtifactUploaderOptions) {
    this.client = createClient(ArtifactService, options.createTransport(options.endpoint));
  }

  /** Uploads one file, retrying transient failures; returns the artifact as the server recorded it. */
  async upload(request: UploadRequest): Promise<GuestArtifact> {
    const { size } = await stat(request.file);
    if (this.options.maxBytes > 0n && BigInt(size) > this.options.maxBytes) {
      throw new GuestError(
        `${request.path} is ${size} bytes, more than the upload limit of ${this.options.maxBytes} bytes`,
        "raise artifact_max_bytes in control's config, or have the agent produce less output",
      );
    }
    try {
      return await withRetry(
        this.options.retry,
        {
          sleep: this.options.sleep,
          onRetry: (err, attempt, delayMs) =>
            this.options.log(
              `upload of ${request.path} attempt ${attempt} failed (${errorMessage(err)}); retry in ${delayMs} ms`,
            ),
        },
        async () => {
          const digest = { sha256: "", size: 0n };
          const reply = await this.client.uploadArtifact(uploadMessages(request, this.options.token, digest), {
            timeoutMs: UPLOAD_TIMEOUT_MS,
          });
          const stored = reply.artifact;
          return create(GuestArtifactSchema, {
            name: stored?.name || basename(request.path),
            path: stored?.path || request.path,
            sizeBytes: stored?.sizeBytes ?? digest.size,
            sha256: stored?.sha256 || digest.sha256,
            mime: stored?.mime || request.mime,
          });
        },
      );
    } catch (err) {
      throw new GuestError(
        `uploading ${request.path} to ${this.options.endpoint} failed: ${errorMessage(err)}`,
        "check that the artifacts service is reachable from the sandbox",
        { cause: err },
      );
    }
  }
}
