/** The `workspaces` table: persistent volumes, attached to at most one sandbox at a time. */
import { AlreadyExistsError, NotFoundError } from "@agentlab/core";
import type { SqliteDatabase } from "../db/open-database.js";

export interface WorkspaceRecord {
  id: string;
  name: string;
  storage: string;
  volid: string;
  sizeGb: number;
  attachedVmid: number | null;
  createdAt: string;
  updatedAt: string;
  runner: string | null;
}

interface WorkspaceRow {
  id: string;
  name: string;
  storage: string;
  volid: string;
  size_gb: number;
  attached_vmid: number | null;
  created_at: string;
  updated_at: string;
  meta_json: string | null;
}

function toRecord(row: WorkspaceRow): WorkspaceRecord {
  let runner: string | null = null;
  try {
    const meta = row.meta_json ? (JSON.parse(row.meta_json) as { runner?: unknown }) : {};
    runner = typeof meta.runner === "string" ? meta.runner : null;
  } catch {
    // Free-form meta from the original: no runner recorded, so the first runner holds it.
  }
  return {
    id: row.id,
    name: row.name,
    storage: row.storage,
    volid: row.volid,
    sizeGb: row.size_gb,
    attachedVmid: row.attached_vmid ?? null,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    runner,
  };
}

export function insertWorkspace(
  db: SqliteDatabase,
  w: Omit<WorkspaceRecord, "attachedVmid" | "updatedAt">,
): WorkspaceRecord {
  try {
    db.prepare(
      `INSERT INTO workspaces (id, name, storage, volid, size_gb, attached_vmid, created_at, updated_at, meta_json)
       VALUES (?, ?, ?, ?, ?, NULL, ?, ?, ?)`,
    ).run(w.id, w.name, w.storage, w.volid, w.sizeGb, w.createdAt, w.createdAt, JSON.stringify({ runner: w.runner }));
  } catch (err) {
    if (err instanceof Error && err.message.includes("workspaces.name")) {
      throw new AlreadyExistsError({
        message: `a workspace named ${JSON.stringify(w.name)} already exists`,
        what: "workspace",
        value: w.name,
      });
    }
    throw err;
  }
  return getWorkspace(db, { id: w.id });
}

export type WorkspaceRef = { id: string } | { name: string };

export function findWorkspace(db: SqliteDatabase, ref: WorkspaceRef): WorkspaceRecord | undefined {
  const row = (
    "id" in ref
      ? db.prepare("SELECT * FROM workspaces WHERE id = ?").get(ref.id)
      : db.prepare("SELECT * FROM workspaces WHERE name = ?").get(ref.name)
  ) as WorkspaceRow | undefined;
  return row ? toRecord(row) : undefined;
}

export function getWorkspace(db: SqliteDatabase, ref: WorkspaceRef): WorkspaceRecord {
  const found = findWorkspace(db, ref);
  if (!found) {
    const value = "id" in ref ? ref.id : ref.name;
    throw new NotFoundError({
      message: `workspace ${JSON.stringify(value)} not found`,
      what: "workspace",
      value,
      hint: "list workspaces with `agentlab workspace list`",
    });
  }
  return found;
}

/** By id when it looks like one (`workspace-<16 hex>`), else by name. */
export function workspaceRefFromText(text: string): WorkspaceRef {
  return /^workspace-[0-9a-f]{16}$/.test(text) ? { id: text } : { name: text };
}

export function listWorkspaces(db: SqliteDatabase, limit: number, afterName?: string): WorkspaceRecord[] {
  const rows = (
    afterName === undefined
      ? db.prepare("SELECT * FROM workspaces ORDER BY name LIMIT ?").all(limit)
      : db.prepare("SELECT * FROM workspaces WHERE name > ? ORDER BY name LIMIT ?").all(afterName, limit)
  ) as WorkspaceRow[];
  return rows.map(toRecord);
}

export function workspaceAttachedTo(db: SqliteDatabase, vmid: number): WorkspaceRecord | undefined {
  const row = db.prepare("SELECT * FROM workspaces WHERE attached_vmid = ?").get(vmid) as WorkspaceRow | undefined;
  return row ? toRecord(row) : undefined;
}

export function setWorkspaceAttachment(db: SqliteDatabase, id: string, vmid: number | null, now: string): void {
  db.transaction(() => {
    const previous = db.prepare("SELECT attached_vmid FROM workspaces WHERE id = ?").pluck().get(id) as
      | number
      | null
      | undefined;
    db.prepare("UPDATE workspaces SET attached_vmid = ?, updated_at = ? WHERE id = ?").run(vmid, now, id);
    if (previous !== null && previous !== undefined) {
      db.prepare("UPDATE sandboxes SET workspace_id = NULL, updated_at = ? WHERE vmid = ? AND workspace_id = ?").run(
        now,
        previous,
        id,
      );
    }
    if (vmid !== null)
      db.prepare("UPDATE sandboxes SET workspace_id = ?, updated_at = ? WHERE vmid = ?").run(id, now, vmid);
  })();
}

/** A destroyed sandbox lets go of its workspace (the volume itself is kept). */
export function detachWorkspacesOfSandbox(db: SqliteDatabase, vmid: number, now: string): void {
  db.prepare("UPDATE workspaces SET attached_vmid = NULL, updated_at = ? WHERE attached_vmid = ?").run(now, vmid);
}

export function deleteWorkspaceRow(db: SqliteDatabase, id: string): void {
  db.prepare("DELETE FROM workspaces WHERE id = ?").run(id);
}
