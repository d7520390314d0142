/**
 * Admission control (DESIGN §3): a cap on non-terminal sandboxes — counting the ones still being
 * brought up (REQUESTED/PROVISIONING/BOOTING), which is what protects the hypervisor from a burst —
 * and an optional per-profile cap (`behavior.max_active`).
 */
import type { SqliteDatabase } from "../db/open-database.js";
import { NON_TERMINAL_STATES } from "./sandbox-state-machine.js";
import { countSandboxesInStates } from "./sandbox-store.js";

export interface AdmissionVerdict {
  admitted: boolean;
  /** Why not, e.g. "10 of 10 sandboxes are active (max_active_sandboxes)". */
  reason?: string;
}

export function checkAdmission(
  db: SqliteDatabase,
  caps: { maxActive: number; profile: string; profileMaxActive?: number | undefined },
): AdmissionVerdict {
  if (caps.maxActive > 0) {
    const active = countSandboxesInStates(db, NON_TERMINAL_STATES);
    if (active >= caps.maxActive) {
      return { admitted: false, reason: `${active} of ${caps.maxActive} sandboxes are active (max_active_sandboxes)` };
    }
  }
  if (caps.profileMaxActive !== undefined && caps.profileMaxActive > 0) {
    const active = countSandboxesInStates(db, NON_TERMINAL_STATES, caps.profile);
    if (active >= caps.profileMaxActive) {
      return {
        admitted: false,
        reason: `${active} of ${caps.profileMaxActive} sandboxes of profile ${caps.profile} are active (behavior.max_active)`,
      };
    }
  }
  return { admitted: true };
}
