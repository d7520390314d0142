import { createHash, type Hash } from "node:crypto";
import { InvalidArgumentError, ResourceExhaustedError } from "@agentlab/core/errors";

/** The upload is over the size cap. Its own class so plain HTTP answers 413, not 429. */
export class UploadTooLargeError extends ResourceExhaustedError {
  constructor(
    readonly limitBytes: number,
    received: number | bigint,
    how: "declared" | "sent",
  ) {
    super({
      message: `upload exceeds the artifact size limit of ${limitBytes} bytes (artifact_max_bytes)`,
      what: how === "declared" ? "declared size" : "bytes received so far",
      value: typeof received === "bigint" ? received.toString() : received,
      hint: "upload a smaller file, or raise artifact_max_bytes in the config and restart the artifacts service",
    });
  }
}

/** What the uploader claims: from the gRPC trailer, or Content-Length / X-Content-SHA256. */
export interface ExpectedContent {
  sizeBytes?: bigint | number;
  sha256?: string;
}

const SHA256_HEX = /^[0-9a-f]{64}$/;

/**
 * Counts and hashes the bytes as they stream past, refusing the chunk that would cross the cap (so
 * an oversized upload stops at the limit, not at its end), and at the end compares with what the
 * uploader claimed.
 */
export class UploadVerifier {
  private readonly hash: Hash = createHash("sha256");
  private received = 0;

  constructor(readonly limitBytes: number) {}

  get sizeBytes(): number {
    return this.received;
  }

  /** Call before writing the chunk. */
  update(chunk: Uint8Array): void {
    const next = this.received + chunk.byteLength;
    if (next > this.limitBytes) throw new UploadTooLargeError(this.limitBytes, next, "sent");
    this.received = next;
    this.hash.update(chunk);
  }

  /** The digest of everything received; call once, after the last chunk. */
  verify(expected: ExpectedContent): { sizeBytes: number; sha256: string } {
    const sha256 = this.hash.digest("hex");
    if (expected.sizeBytes !== undefined && BigInt(expected.sizeBytes) !== BigInt(this.received)) {
      throw new InvalidArgumentError({
        message: `size mismatch: the uploader declared ${expected.sizeBytes} bytes but ${this.received} arrived`,
        what: "size_bytes",
        value: expected.sizeBytes.toString(),
        hint: "nothing was stored; retry the upload, checking the file is not being written while it is sent",
      });
    }
    if (expected.sha256 !== undefined) {
      const claimed = expected.sha256.trim().toLowerCase();
      if (!SHA256_HEX.test(claimed)) {
        throw new InvalidArgumentError({
          message: "sha256 must be 64 hex characters",
          what: "sha256",
          value: expected.sha256.slice(0, 80),
          hint: "send the lower-case hex SHA-256 of the content (sha256sum prints it)",
        });
      }
      if (claimed !== sha256) {
        throw new InvalidArgumentError({
          message: `sha256 mismatch: the uploader declared ${claimed} but the content received hashes to ${sha256}`,
          what: "sha256",
          value: claimed,
          hint: "nothing was stored; the content was corrupted or changed in transit, retry the upload",
        });
      }
    }
    return { sizeBytes: this.received, sha256 };
  }
}
