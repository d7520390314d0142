/**
 * The `sandboxes` table. Rows are never deleted: DESTROYED is a tombstone (names may repeat among
 * tombstones; the partial unique index of migration 6 keeps live names unique). State changes go
 * through `compareAndSetState` so two writers can never both move the same sandbox.
 */
import { AlreadyExistsError, InvalidArgumentError, NotFoundError } from "@agentlab/core";
import type { SqliteDatabase } from "../db/open-database.js";
import type { SandboxMeta, SandboxRecord } from "./sandbox-record.js";
import { isSandboxState, type SandboxStateName } from "./sandbox-state-machine.js";

interface SandboxRow {
  vmid: number;
  name: string;
  profile: string;
  state: string;
  ip: string | null;
  workspace_id: string | null;
  keepalive: number;
  lease_expires_at: string | null;
  created_at: string;
  updated_at: string;
  meta_json: string | null;
  owner_tag: string | null;
  termination_reason: string | null;
  runner: string | null;
  request_id: string | null;
}

function parseMeta(text: string | null): SandboxMeta {
  if (!text) return {};
  try {
    const value = JSON.parse(text) as unknown;
    return value !== null && typeof value === "object" && !Array.isArray(value) ? (value as SandboxMeta) : {};
  } catch {
    // The original wrote free-form meta_json; an unreadable one is kept in the row, ignored here.
    return {};
  }
}

function toRecord(row: SandboxRow): SandboxRecord {
  return {
    vmid: row.vmid,
    name: row.name,
    profile: row.profile,
    // A state this version does not know (hand-edited row) reads as FAILED rather than crashing lists.
    state: isSandboxState(row.state) ? row.state : "FAILED",
    ip: row.ip || null,
    workspaceId: row.workspace_id || null,
    keepalive: row.keepalive !== 0,
    leaseExpiresAt: row.lease_expires_at || null,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    ownerTag: row.owner_tag,
    terminationReason: row.termination_reason,
    runner: row.runner,
    requestId: row.request_id,
    meta: parseMeta(row.meta_json),
  };
}

export interface NewSandbox {
  vmid: number;
  name: string;
  profile: string;
  keepalive: boolean;
  leaseExpiresAt: string | null;
  ownerTag: string;
  runner: string;
  requestId: string | null;
  workspaceId: string | null;
  meta: SandboxMeta;
}

export function insertSandbox(db: SqliteDatabase, sandbox: NewSandbox, now: string): SandboxRecord {
  try {
    db.prepare(
      `INSERT INTO sandboxes (vmid, name, profile, state, keepalive, lease_expires_at, created_at, updated_at,
         meta_json, owner_tag, runner, request_id, workspace_id)
       VALUES (@vmid, @name, @profile, 'REQUESTED', @keepalive, @lease, @now, @now, @meta, @ownerTag, @runner, @requestId, @workspaceId)`,
    ).run({
      vmid: sandbox.vmid,
      name: sandbox.name,
      profile: sandbox.profile,
      keepalive: sandbox.keepalive ? 1 : 0,
      lease: sandbox.leaseExpiresAt,
      now,
      meta: JSON.stringify({ ...sandbox.meta, stateEnteredAt: now }),
      ownerTag: sandbox.ownerTag,
      runner: sandbox.runner,
      requestId: sandbox.requestId,
      workspaceId: sandbox.workspaceId,
    });
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    if (message.includes("sandboxes.name")) {
      throw new AlreadyExistsError({
        message: `a sandbox named ${JSON.stringify(sandbox.name)} already exists`,
        what: "name",
        value: sandbox.name,
        hint: "choose another name, or destroy the existing sandbox first",
      });
    }
    if (message.includes("sandboxes.vmid") || message.includes("PRIMARY")) {
      throw new AlreadyExistsError({
        message: `VMID ${sandbox.vmid} is already recorded`,
        what: "vmid",
        value: sandbox.vmid,
      });
    }
    throw err;
  }
  return getSandbox(db, sandbox.vmid);
}

export function findSandbox(db: SqliteDatabase, vmid: number): SandboxRecord | undefined {
  const row = db.prepare("SELECT * FROM sandboxes WHERE vmid = ?").get(vmid) as SandboxRow | undefined;
  return row ? toRecord(row) : undefined;
}

export function getSandbox(db: SqliteDatabase, vmid: number): SandboxRecord {
  const found = findSandbox(db, vmid);
  if (!found) {
    throw new NotFoundError({
      message: `sandbox ${vmid} not found`,
      what: "sandbox",
      value: vmid,
      hint: "list sandboxes with `agentlab sandbox list`",
    });
  }
  return found;
}

/** By name: the live sandbox of that name, else the most recent tombstone. */
export function findSandboxByName(db: SqliteDatabase, name: string): SandboxRecord | undefined {
  const row = db
    .prepare(
      `SELECT * FROM sandboxes WHERE name = ?
       ORDER BY (state = 'DESTROYED'), created_at DESC, vmid DESC LIMIT 1`,
    )
    .get(name) as SandboxRow | undefined;
  return row ? toRecord(row) : undefined;
}

export function findSandboxByRequestId(db: SqliteDatabase, requestId: string): SandboxRecord | undefined {
  const row = db.prepare("SELECT * FROM sandboxes WHERE request_id = ?").get(requestId) as SandboxRow | undefined;
  return row ? toRecord(row) : undefined;
}

export type SandboxRef = { vmid: number } | { name: string };

export function resolveSandbox(db: SqliteDatabase, ref: SandboxRef | undefined): SandboxRecord {
  if (!ref) {
    throw new InvalidArgumentError({ message: "no sandbox given", hint: "name a sandbox by VMID or name" });
  }
  if ("vmid" in ref) return getSandbox(db, ref.vmid);
  const found = findSandboxByName(db, ref.name);
  if (!found) {
    throw new NotFoundError({
      message: `sandbox ${JSON.stringify(ref.name)} not found`,
      what: "sandbox",
      value: ref.name,
      hint: "list sandboxes with `agentlab sandbox list`",
    });
  }
  return found;
}

export interface ListSandboxesQuery {
  states?: readonly SandboxStateName[];
  profile?: string;
  includeDestroyed?: boolean;
  limit: number;
  /** Resume after this (created_at, vmid), newest first. */
  after?: { createdAt: string; vmid: number };
}

export function listSandboxes(db: SqliteDatabase, query: ListSandboxesQuery): SandboxRecord[] {
  const where: string[] = [];
  const params: unknown[] = [];
  if (query.states && query.states.length > 0) {
    where.push(`state IN (${query.states.map(() => "?").join(",")})`);
    params.push(...query.states);
  } else if (!query.includeDestroyed) {
    where.push("state != 'DESTROYED'");
  }
  if (query.profile) {
    where.push("profile = ?");
    params.push(query.profile);
  }
  if (query.after) {
    where.push("(created_at < ? OR (created_at = ? AND vmid < ?))");
    params.push(query.after.createdAt, query.after.createdAt, query.after.vmid);
  }
  const sql = `SELECT * FROM sandboxes ${where.length ? `WHERE ${where.join(" AND ")}` : ""}
    ORDER BY created_at DESC, vmid DESC LIMIT ?`;
  return (db.prepare(sql).all(...params, query.limit) as SandboxRow[]).map(toRecord);
}

export function listSandboxesInStates(db: SqliteDatabase, states: readonly SandboxStateName[]): SandboxRecord[] {
  const sql = `SELECT * FROM sandboxes WHERE state IN (${states.map(() => "?").join(",")}) ORDER BY vmid`;
  return (db.prepare(sql).all(...states) as SandboxRow[]).map(toRecord);
}

export function countSandboxesInStates(
  db: SqliteDatabase,
  states: readonly SandboxStateName[],
  profile?: string,
): number {
  const sql = `SELECT COUNT(*) FROM sandboxes WHERE state IN (${states.map(() => "?").join(",")})${profile ? " AND profile = ?" : ""}`;
  return db
    .prepare(sql)
    .pluck()
    .get(...states, ...(profile ? [profile] : [])) as number;
}

/**
 * Moves a sandbox from `from` to `to` only if it is still in `from`. Returns false when another
 * writer got there first. Also records when the state was entered (deadlines count from it).
 */
export function compareAndSetState(
  db: SqliteDatabase,
  vmid: number,
  from: SandboxStateName,
  to: SandboxStateName,
  now: string,
  changes: { terminationReason?: string; ip?: string } = {},
): boolean {
  const result = db
    .prepare(
      `UPDATE sandboxes SET state = @to, updated_at = @now,
         meta_json = json_set(CASE WHEN json_valid(meta_json) THEN meta_json ELSE '{}' END, '$.stateEnteredAt', @now),
         termination_reason = COALESCE(@reason, termination_reason),
         ip = COALESCE(@ip, ip)
       WHERE vmid = @vmid AND state = @from`,
    )
    .run({ vmid, from, to, now, reason: changes.terminationReason ?? null, ip: changes.ip ?? null });
  return result.changes === 1;
}

export function updateSandbox(
  db: SqliteDatabase,
  vmid: number,
  now: string,
  changes: {
    ip?: string | null;
    leaseExpiresAt?: string | null;
    workspaceId?: string | null;
    ownerTag?: string;
    runner?: string;
    terminationReason?: string;
    requestId?: string | null;
  },
): void {
  const sets: string[] = ["updated_at = @now"];
  const params: Record<string, unknown> = { vmid, now };
  const columns: Record<string, string> = {
    ip: "ip",
    leaseExpiresAt: "lease_expires_at",
    workspaceId: "workspace_id",
    ownerTag: "owner_tag",
    runner: "runner",
    terminationReason: "termination_reason",
    requestId: "request_id",
  };
  for (const [key, column] of Object.entries(columns)) {
    if (key in changes) {
      sets.push(`${column} = @${key}`);
      params[key] = (changes as Record<string, unknown>)[key] ?? null;
    }
  }
  db.prepare(`UPDATE sandboxes SET ${sets.join(", ")} WHERE vmid = @vmid`).run(params);
}

/** Highest VMID recorded inside a range (tombstones included: their ids are never reused). */
export function highestVmidInRange(db: SqliteDatabase, range: { min: number; max: number }): number | undefined {
  const value = db
    .prepare("SELECT MAX(vmid) FROM sandboxes WHERE vmid BETWEEN ? AND ?")
    .pluck()
    .get(range.min, range.max) as number | null;
  return value ?? undefined;
}

export function vmidIsRecorded(db: SqliteDatabase, vmid: number): boolean {
  return db.prepare("SELECT 1 FROM sandboxes WHERE vmid = ?").pluck().get(vmid) !== undefined;
}

/** The job currently (or last) associated with a sandbox. */
export function jobIdOfSandbox(db: SqliteDatabase, vmid: number): string {
  return (
    (db.prepare("SELECT id FROM jobs WHERE sandbox_vmid = ? ORDER BY created_at DESC LIMIT 1").pluck().get(vmid) as
      | string
      | undefined) ?? ""
  );
}
