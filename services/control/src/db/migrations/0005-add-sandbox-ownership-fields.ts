import type { Migration } from "../migration.js";

/**
 * What control records per sandbox beyond the original's columns:
 * - `owner_tag`: the deployment tag written on the VM. NULL on rows migrated from the original,
 *   which marks them adoptable once (same VMID and name), after which the tag is set.
 * - `termination_reason`: why the sandbox left the happy path (lease expired, guest lost, …).
 * - `runner`: the name of the runner that owns the VM.
 * - `request_id`: the idempotency id sent with ProvisionVm, so a retried create never clones twice.
 * - `snippet_ref`: whatever bootstrap delivery the runner recorded (a cloud-init snippet volid or a
 *   local file), persisted because the original kept it in memory and leaked it on restart.
 */
export const addSandboxOwnershipFields: Migration = {
  version: 5,
  name: "add_sandbox_ownership_fields",
  up(db) {
    db.exec(`
      ALTER TABLE sandboxes ADD COLUMN owner_tag TEXT;
      ALTER TABLE sandboxes ADD COLUMN termination_reason TEXT;
      ALTER TABLE sandboxes ADD COLUMN runner TEXT;
      ALTER TABLE sandboxes ADD COLUMN request_id TEXT;
      ALTER TABLE sandboxes ADD COLUMN snippet_ref TEXT;
      CREATE UNIQUE INDEX idx_sandboxes_request_id ON sandboxes(request_id) WHERE request_id IS NOT NULL;
    `);
  },
};
