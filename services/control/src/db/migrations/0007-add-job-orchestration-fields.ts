import type { Migration } from "../migration.js";

/**
 * Job columns the orchestrator needs: the RunJob idempotency key (unique when set), the agent
 * command and secrets bundle chosen at submit time, cancel and lifecycle timestamps, the heartbeat
 * that detects a lost guest, a failure reason, and the attached workspace.
 */
export const addJobOrchestrationFields: Migration = {
  version: 7,
  name: "add_job_orchestration_fields",
  up(db) {
    db.exec(`
      ALTER TABLE jobs ADD COLUMN idempotency_key TEXT;
      ALTER TABLE jobs ADD COLUMN agent_command TEXT;
      ALTER TABLE jobs ADD COLUMN secrets_bundle TEXT;
      ALTER TABLE jobs ADD COLUMN cancel_requested_at TEXT;
      ALTER TABLE jobs ADD COLUMN started_at TEXT;
      ALTER TABLE jobs ADD COLUMN finished_at TEXT;
      ALTER TABLE jobs ADD COLUMN last_heartbeat_at TEXT;
      ALTER TABLE jobs ADD COLUMN failure_reason TEXT;
      ALTER TABLE jobs ADD COLUMN workspace_id TEXT;
      CREATE UNIQUE INDEX idx_jobs_idempotency_key ON jobs(idempotency_key) WHERE idempotency_key IS NOT NULL;
      CREATE INDEX idx_jobs_workspace ON jobs(workspace_id);
      CREATE INDEX idx_jobs_created_at ON jobs(created_at);
    `);
  },
};
