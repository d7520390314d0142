import type { MigrationRef } from "./migration.js";

/**
 * Versions 4–19 of the original Go AgentLab (reference §1.1). Versions 1–3 are shared with us;
 * from 4 on the two lines diverge, so a database carrying any of these pairs was written by a later
 * original release whose schema we cannot upgrade. Recognising them lets the refusal say so instead
 * of a bare "unknown version".
 */
export const ORIGINAL_LATER_MIGRATIONS: readonly MigrationRef[] = [
  { version: 4, name: "add_sandbox_last_used_at" },
  { version: 5, name: "add_exposures" },
  { version: 6, name: "add_jobs_workspace" },
  { version: 7, name: "add_workspace_leases" },
  { version: 8, name: "add_messages" },
  { version: 9, name: "add_sessions" },
  { version: 10, name: "add_jobs_session" },
  { version: 11, name: "add_workspace_snapshots" },
  { version: 12, name: "add_sandbox_type_and_image" },
  { version: 13, name: "add_integrations" },
  { version: 14, name: "add_integration_provider" },
  { version: 15, name: "add_sandbox_prompt" },
  { version: 16, name: "add_users_teams_audit" },
  { version: 17, name: "normalize_timestamps_fixed_width" },
  { version: 18, name: "add_workspace_last_attached" },
  { version: 19, name: "add_sandbox_secrets" },
];

/** The newest schema version the original shares with us. */
export const LAST_SHARED_ORIGINAL_VERSION = 3;

export function isOriginalLaterMigration(version: number, name: string): boolean {
  return ORIGINAL_LATER_MIGRATIONS.some((m) => m.version === version && m.name === name);
}
