/** SystemService.GetStatus: versions, schema, integrity on demand, peers and counts. */

import { BuildVersionSchema, type PeerStatus, StateCountSchema, SystemService } from "@agentlab/api";
import { buildInfo } from "@agentlab/core";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { ConnectRouter } from "@connectrpc/connect";
import { MIGRATIONS } from "../db/migrations/migration-list.js";
import type { SqliteDatabase } from "../db/open-database.js";
import { countSandboxesByState, integrityCheck, schemaVersion } from "../db/status-queries.js";
import type { ProfileRegistry } from "../profiles/profile-registry.js";

export interface SystemRoutesDeps {
  db: SqliteDatabase;
  profiles: ProfileRegistry;
  startedAt: Date;
  deploymentId: string;
  databasePath: string;
  sandboxBackend: string;
  probePeers(): Promise<PeerStatus[]>;
}

function countJobsByStatus(db: SqliteDatabase): Record<string, number> {
  const rows = db.prepare("SELECT status, COUNT(*) AS count FROM jobs GROUP BY status ORDER BY status").all() as {
    status: string;
    count: number;
  }[];
  return Object.fromEntries(rows.map((r) => [r.status, r.count]));
}

const counts = (byState: Record<string, number>) =>
  Object.entries(byState)
    .filter(([, count]) => count > 0)
    .map(([state, count]) => create(StateCountSchema, { state, count }));

export function registerSystemRoutes(router: ConnectRouter, deps: SystemRoutesDeps): void {
  router.service(SystemService, {
    async getStatus(req) {
      const profiles = deps.profiles.list();
      const ok = profiles.filter((p) => p.status === "ok").length;
      const integrity = req.integrityCheck ? integrityCheck(deps.db) : undefined;
      return {
        version: create(BuildVersionSchema, buildInfo),
        schemaVersion: schemaVersion(deps.db),
        latestSchemaVersion: Math.max(...MIGRATIONS.map((m) => m.version)),
        integrityCheck: integrity ? integrity.messages.join("; ") : "",
        peers: await deps.probePeers(),
        sandboxCounts: counts(countSandboxesByState(deps.db)),
        jobCounts: counts(countJobsByStatus(deps.db)),
        startedAt: timestampFromDate(deps.startedAt),
        deploymentId: deps.deploymentId,
        databasePath: deps.databasePath,
        sandboxBackend: deps.sandboxBackend,
        profilesOk: ok,
        profilesFailed: profiles.length - ok,
      };
    },
  });
}
