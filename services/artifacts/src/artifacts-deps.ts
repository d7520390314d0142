import type { ArtifactRegistryService } from "@agentlab/api";
import type { GuestGuard } from "@agentlab/core/guest-guard";
import type { Logger } from "@agentlab/core/logger";
import type { Client } from "@connectrpc/connect";
import type { ArtifactStore } from "./artifact-store.js";
import type { UploadObserver } from "./metrics/upload-metrics.js";

/** Control's internal registry, reached through its contract (any transport). */
export type ArtifactRegistryClient = Client<typeof ArtifactRegistryService>;

/** Everything the routes need; main.ts builds it, tests build it with fakes and temp dirs. */
export interface ArtifactsDeps {
  registry: ArtifactRegistryClient;
  store: ArtifactStore;
  /** artifact_max_bytes: the cap this service enforces, whatever control answers. */
  maxBytes: number;
  logger?: Logger;
  /** Upload bytes, durations and failures (metrics_listen); omitted, nothing is measured. */
  uploadMetrics?: UploadObserver;
}

/** The guest listener additionally checks sources and rate limits. */
export interface GuestArtifactsDeps extends ArtifactsDeps {
  guard: GuestGuard;
}
