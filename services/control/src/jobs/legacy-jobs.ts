/**
 * Jobs started by the original AgentLab, still running in a database migrated in place. Their guests
 * speak the original JSON API (agentlab-reference.md §3.4, §6.1), send no heartbeats and know no
 * report token.
 *
 * The rule: a job is legacy when its sandbox row has no `owner_tag`. Every sandbox this version
 * creates is inserted with the deployment's tag (sandbox-store.ts `insertSandbox`), and nothing
 * clears it; only rows the original wrote (migration 5 added the column) have NULL there. The job's
 * own columns cannot tell: the original's rows and ours share all of migration 1-3's columns, and
 * "no idempotency key" is also true of our jobs submitted without one.
 */
import type { SqliteDatabase } from "../db/open-database.js";
import type { SandboxRecord } from "../sandboxes/sandbox-record.js";
import { findSandbox } from "../sandboxes/sandbox-store.js";
import type { JobRecord } from "./job-store.js";

export function legacySandboxOf(db: SqliteDatabase, job: JobRecord): SandboxRecord | undefined {
  if (job.sandboxVmid === null) return undefined;
  const sandbox = findSandbox(db, job.sandboxVmid);
  return sandbox && sandbox.ownerTag === null ? sandbox : undefined;
}

export function isLegacyJob(db: SqliteDatabase, job: JobRecord): boolean {
  return legacySandboxOf(db, job) !== undefined;
}
