/**
 * A migrated SQLite database in a temp dir with helpers to put a sandbox row in any state, for tests
 * of transitions and loops that need rows in states the API would take several calls to reach.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { closeDatabase, type SqliteDatabase } from "../../src/db/open-database.js";
import { openMigratedDatabase } from "../../src/db/open-migrated-database.js";
import { formatTimestamp } from "../../src/db/timestamps.js";
import { EventBus } from "../../src/events/event-bus.js";
import type { SandboxRecord } from "../../src/sandboxes/sandbox-record.js";
import type { SandboxStateName } from "../../src/sandboxes/sandbox-state-machine.js";
import { getSandbox, insertSandbox } from "../../src/sandboxes/sandbox-store.js";
import type { SandboxStateContext } from "../../src/sandboxes/sandbox-transitions.js";

export interface SandboxStateDb extends SandboxStateContext {
  /** Inserts a row and sets its state directly, as if it had walked there. */
  seed(vmid: number, state: SandboxStateName, options?: { ownerTag?: string; runner?: string }): SandboxRecord;
  /** The row as stored, raw, for "left untouched" comparisons. */
  raw(vmid: number): Record<string, unknown>;
  eventCount(vmid: number): number;
  close(): void;
}

export async function openSandboxStateDb(clock: () => Date): Promise<SandboxStateDb> {
  const dir = mkdtempSync(join(tmpdir(), "agentlab-sandbox-state-"));
  const { db } = await openMigratedDatabase({ dbPath: join(dir, "agentlab.db"), clock, takeBackup: false });
  return {
    db,
    bus: new EventBus(),
    clock,
    seed(vmid, state, options = {}) {
      const now = formatTimestamp(clock());
      insertSandbox(
        db,
        {
          vmid,
          name: `sb-${vmid}`,
          profile: "p",
          keepalive: false,
          leaseExpiresAt: null,
          ownerTag: options.ownerTag ?? "agentlab-test",
          runner: options.runner ?? "local",
          requestId: null,
          workspaceId: null,
          meta: {},
        },
        now,
      );
      setState(db, vmid, state);
      return getSandbox(db, vmid);
    },
    raw: (vmid) => db.prepare("SELECT * FROM sandboxes WHERE vmid = ?").get(vmid) as Record<string, unknown>,
    eventCount: (vmid) =>
      (db.prepare("SELECT count(*) AS n FROM events WHERE sandbox_vmid = ?").get(vmid) as { n: number }).n,
    close() {
      closeDatabase(db);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function setState(db: SqliteDatabase, vmid: number, state: SandboxStateName): void {
  db.prepare("UPDATE sandboxes SET state = ? WHERE vmid = ?").run(state, vmid);
}
