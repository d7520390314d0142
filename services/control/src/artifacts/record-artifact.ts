/**
 * RecordArtifact's decision: the token is checked again (it may have been revoked, or the job may
 * have ended, since AuthorizeUpload), job and VMID come from the token, and the row and its
 * `artifact.upload` event commit together. The event is announced only after the commit.
 */
import { AlreadyExistsError, InvalidArgumentError } from "@agentlab/core";
import type { SqliteDatabase } from "../db/open-database.js";
import { type Clock, formatTimestamp } from "../db/timestamps.js";
import type { EventBus } from "../events/event-bus.js";
import { appendEvent } from "../events/event-store.js";
import { baseName, checkArtifactPath, checkStoredPathForJob } from "./artifact-path.js";
import { UNKNOWN_MIME } from "./artifact-proto.js";
import { type ArtifactRow, insertArtifactRow, isStoredPathRecorded } from "./artifact-store.js";
import { type AuthorizeUploadOptions, authorizeUploadToken } from "./upload-token-store.js";

export interface RecordArtifactInput {
  readonly token: string;
  readonly path: string;
  readonly storedPath: string;
  readonly sizeBytes: bigint;
  readonly sha256: string;
  readonly mime: string;
}

export interface RecordArtifactDeps {
  readonly db: SqliteDatabase;
  readonly bus: EventBus;
  readonly clock: Clock;
  /** artifact_max_bytes: a recorded size above it means the two services disagree on the limit. */
  readonly maxBytes: number;
  readonly tokenOptions?: AuthorizeUploadOptions;
}

const SHA256_HEX = /^[0-9a-f]{64}$/;
const MIME = /^[\x21-\x7e]+\/[\x21-\x7e]+(?:\s*;[\x20-\x7e]*)?$/;
const MAX_MIME_LENGTH = 255;

function checkSize(sizeBytes: bigint, maxBytes: number): number {
  if (sizeBytes < 0n || sizeBytes > BigInt(maxBytes)) {
    throw new InvalidArgumentError({
      message: `size_bytes ${sizeBytes} is outside 0..${maxBytes} (artifact_max_bytes)`,
      what: "size_bytes",
      value: sizeBytes,
      hint: "the artifacts service must enforce artifact_max_bytes; check both read the same config",
    });
  }
  return Number(sizeBytes);
}

function checkSha256(sha256: string): string {
  if (!SHA256_HEX.test(sha256)) {
    throw new InvalidArgumentError({
      message: "sha256 must be 64 lower-case hex characters",
      what: "sha256",
      value: sha256.slice(0, 80),
    });
  }
  return sha256;
}

function checkMime(mime: string): string {
  if (mime === "") return UNKNOWN_MIME;
  if (mime.length > MAX_MIME_LENGTH || !MIME.test(mime)) {
    throw new InvalidArgumentError({
      message: "mime is not a media type",
      what: "mime",
      value: mime.slice(0, 80),
      hint: 'send e.g. "application/gzip", or nothing to record application/octet-stream',
    });
  }
  return mime;
}

function isUniqueViolation(err: unknown): boolean {
  return (err as { code?: unknown })?.code === "SQLITE_CONSTRAINT_UNIQUE";
}

function duplicate(storedPath: string): AlreadyExistsError {
  return new AlreadyExistsError({
    message: "an artifact with this stored_path is already recorded",
    what: "stored_path",
    value: storedPath,
    hint: "store every upload under a new name (the artifacts service adds a random suffix)",
  });
}

export function recordArtifact(deps: RecordArtifactDeps, input: RecordArtifactInput): ArtifactRow {
  const { db, bus, clock } = deps;
  const now = clock();
  const run = db.transaction(() => {
    const binding = authorizeUploadToken(db, input.token, now, deps.tokenOptions);
    const path = checkArtifactPath(input.path);
    const storedPath = checkStoredPathForJob(input.storedPath, binding.jobId);
    const sizeBytes = checkSize(input.sizeBytes, deps.maxBytes);
    const sha256 = checkSha256(input.sha256);
    const mime = checkMime(input.mime);
    if (isStoredPathRecorded(db, storedPath)) throw duplicate(storedPath);
    let row: ArtifactRow;
    try {
      row = insertArtifactRow(db, {
        jobId: binding.jobId,
        vmid: binding.vmid,
        name: baseName(path),
        path,
        sizeBytes,
        sha256,
        mime,
        createdAt: formatTimestamp(now),
        storedPath,
      });
    } catch (err) {
      // The unique index is the last word if two writers ever race past the check above.
      if (isUniqueViolation(err)) throw duplicate(storedPath);
      throw err;
    }
    const event = appendEvent(
      db,
      {
        kind: "artifact.upload",
        jobId: binding.jobId,
        ...(binding.vmid > 0 && { sandboxVmid: binding.vmid }),
        msg: `artifact uploaded: ${path} (${sizeBytes} bytes)`,
        payload: { path, size_bytes: sizeBytes, sha256 },
      },
      clock,
    );
    return { row, event };
  });
  const { row, event } = run();
  bus.publish(event);
  return row;
}
