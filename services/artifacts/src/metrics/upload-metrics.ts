/**
 * Upload figures for both front doors (UploadArtifact and POST /upload), observed around the one
 * upload sequence they share (storeUpload), so bytes count only what was stored and recorded.
 */
import { DomainError } from "@agentlab/core/errors";
import { Code, ConnectError } from "@connectrpc/connect";
import { Counter, Histogram, type Registry } from "prom-client";
import { UploadTooLargeError } from "../upload-verifier.js";

/** Seconds; a report uploads in milliseconds, a 256 MiB bundle over a slow bridge in minutes. */
const UPLOAD_DURATION_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];

/** The hook ArtifactsDeps carries; optional there, so tests and tools without metrics pass nothing. */
export interface UploadObserver {
  /** Runs one upload, timing it; `sizeBytes` reads the stored size from its result. */
  observe<T>(upload: () => Promise<T>, sizeBytes: (result: T) => number | bigint): Promise<T>;
}

export function createUploadMetrics(registry: Registry, now: () => number = () => performance.now()): UploadObserver {
  const bytes = new Counter({
    name: "agentlab_artifacts_upload_bytes_total",
    help: "Bytes of artifacts stored and recorded (verified uploads only).",
    registers: [registry],
  });
  const duration = new Histogram({
    name: "agentlab_artifacts_upload_duration_seconds",
    help: "Seconds from the start of an upload to its answer, by outcome (stored or failed).",
    labelNames: ["outcome"] as const,
    buckets: UPLOAD_DURATION_BUCKETS,
    registers: [registry],
  });
  const failures = new Counter({
    name: "agentlab_artifacts_upload_failures_total",
    help: "Uploads that stored nothing, by reason: too_large, verify_failed, or the Connect code in snake_case.",
    labelNames: ["reason"] as const,
    registers: [registry],
  });

  return {
    async observe(upload, sizeBytes) {
      const started = now();
      try {
        const result = await upload();
        duration.observe({ outcome: "stored" }, (now() - started) / 1000);
        bytes.inc(Number(sizeBytes(result)));
        return result;
      } catch (err) {
        duration.observe({ outcome: "failed" }, (now() - started) / 1000);
        failures.inc({ reason: uploadFailureReason(err) });
        throw err;
      }
    },
  };
}

/**
 * A small fixed vocabulary, so the label never carries a message: the size cap and a content that
 * does not match its declared size or sha256 get their own reasons (the ones operators act on);
 * everything else is its Connect code (unauthenticated, canceled, unavailable, ...).
 */
export function uploadFailureReason(err: unknown): string {
  if (err instanceof UploadTooLargeError) return "too_large";
  if (err instanceof DomainError && err.code === Code.InvalidArgument) {
    if (err.what === "size_bytes" || err.what === "sha256") return "verify_failed";
  }
  const code = err instanceof DomainError || err instanceof ConnectError ? err.code : Code.Internal;
  return snakeCase(Code[code] ?? "Internal");
}

function snakeCase(name: string): string {
  return name.replace(/([a-z])([A-Z])/g, "$1_$2").toLowerCase();
}
