import type { Migration } from "../migration.js";

/**
 * The original Go AgentLab's migration 1, same tables, columns, defaults and indexes, so a
 * database it wrote upgrades in place. `IF NOT EXISTS` as the original had it. No foreign keys
 * here: the original had none on these tables. `profiles` was never written by the original
 * (profiles live in memory) and is kept only so the schema matches.
 */
export const initCoreTables: Migration = {
  version: 1,
  name: "init_core_tables",
  up(db) {
    db.exec(`
      CREATE TABLE IF NOT EXISTS sandboxes (
        vmid INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        profile TEXT NOT NULL,
        state TEXT NOT NULL,
        ip TEXT,
        workspace_id TEXT,
        keepalive INTEGER NOT NULL DEFAULT 0,
        lease_expires_at TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        meta_json TEXT
      );
      CREATE TABLE IF NOT EXISTS jobs (
        id TEXT PRIMARY KEY,
        repo_url TEXT NOT NULL,
        ref TEXT NOT NULL,
        profile TEXT NOT NULL,
        status TEXT NOT NULL,
        sandbox_vmid INTEGER,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        result_json TEXT
      );
      CREATE TABLE IF NOT EXISTS profiles (
        name TEXT PRIMARY KEY,
        template_vmid INTEGER NOT NULL,
        yaml TEXT NOT NULL,
        updated_at TEXT NOT NULL
      );
      CREATE TABLE IF NOT EXISTS workspaces (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        storage TEXT NOT NULL,
        volid TEXT NOT NULL,
        size_gb INTEGER NOT NULL,
        attached_vmid INTEGER,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        meta_json TEXT
      );
      CREATE TABLE IF NOT EXISTS bootstrap_tokens (
        token TEXT PRIMARY KEY,
        vmid INTEGER NOT NULL,
        expires_at TEXT NOT NULL,
        consumed_at TEXT,
        created_at TEXT NOT NULL
      );
      CREATE TABLE IF NOT EXISTS events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        ts TEXT NOT NULL,
        kind TEXT NOT NULL,
        sandbox_vmid INTEGER,
        job_id TEXT,
        msg TEXT,
        json TEXT
      );
      CREATE INDEX IF NOT EXISTS idx_sandboxes_state ON sandboxes(state);
      CREATE INDEX IF NOT EXISTS idx_sandboxes_profile ON sandboxes(profile);
      CREATE INDEX IF NOT EXISTS idx_jobs_status ON jobs(status);
      CREATE INDEX IF NOT EXISTS idx_jobs_sandbox ON jobs(sandbox_vmid);
      CREATE INDEX IF NOT EXISTS idx_workspaces_attached ON workspaces(attached_vmid);
      CREATE INDEX IF NOT EXISTS idx_bootstrap_tokens_vmid ON bootstrap_tokens(vmid);
      CREATE INDEX IF NOT EXISTS idx_events_sandbox ON events(sandbox_vmid);
      CREATE INDEX IF NOT EXISTS idx_events_job ON events(job_id);
    `);
  },
};
