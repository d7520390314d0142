/**
 * ArtifactRegistryService: control's internal API for the artifacts service (DESIGN §3 step 4).
 * Reached only over the peer socket or with internal_token; the caller is trusted to have stored
 * the file, not to say which job it belongs to — that always comes from the upload token.
 */
import { ArtifactRegistryService } from "@agentlab/api";
import type { Logger } from "@agentlab/core";
import type { ConnectRouter } from "@connectrpc/connect";
import type { SqliteDatabase } from "../db/open-database.js";
import type { Clock } from "../db/timestamps.js";
import type { EventBus } from "../events/event-bus.js";
import { checkArtifactPath } from "./artifact-path.js";
import { artifactToProto } from "./artifact-proto.js";
import { listStoredArtifacts } from "./job-artifacts.js";
import { recordArtifact } from "./record-artifact.js";
import { authorizeUploadToken } from "./upload-token-store.js";

export interface ArtifactRegistryRoutesDeps {
  readonly db: SqliteDatabase;
  readonly bus: EventBus;
  readonly clock: Clock;
  /** Config `artifact_max_bytes`. */
  readonly maxBytes: number;
  /** How long after a job ends its token still uploads; default 10 minutes. */
  readonly finishedGraceMs?: number;
  readonly logger?: Logger;
}

export function registerArtifactRegistryRoutes(router: ConnectRouter, deps: ArtifactRegistryRoutesDeps): void {
  const tokenOptions = deps.finishedGraceMs === undefined ? {} : { finishedGraceMs: deps.finishedGraceMs };
  router.service(ArtifactRegistryService, {
    authorizeUpload(req) {
      let binding: ReturnType<typeof authorizeUploadToken>;
      try {
        binding = authorizeUploadToken(deps.db, req.token, deps.clock(), tokenOptions);
      } catch (err) {
        // Never log the token; the source address is what an operator can act on.
        deps.logger?.warn({ source_address: req.sourceAddress, path: req.path, err }, "upload refused");
        throw err;
      }
      checkArtifactPath(req.path);
      return { jobId: binding.jobId, vmid: binding.vmid, maxBytes: BigInt(deps.maxBytes) };
    },
    recordArtifact(req) {
      const row = recordArtifact(
        { db: deps.db, bus: deps.bus, clock: deps.clock, maxBytes: deps.maxBytes, tokenOptions },
        req,
      );
      return { artifact: artifactToProto(row) };
    },
    listArtifacts(req) {
      return listStoredArtifacts(deps.db, req.jobId);
    },
  });
}
