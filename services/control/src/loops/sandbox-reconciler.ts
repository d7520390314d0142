/**
 * Compares sandbox rows with what each runner reports and fixes drift (DESIGN §2 safety rules):
 * - a VM that is gone (the runner answered, and it is not there, or another VM without our tag now
 *   holds the VMID) → the row becomes DESTROYED; the database changes, no VM is touched;
 * - a VM stopped while its sandbox is READY/RUNNING → FAILED with the reason;
 * - a VM with our tag and no live row (an orphan) → destroyed, at most `maxOrphanDestroys` a sweep.
 * A runner that cannot be reached changes nothing for its sandboxes. Sandboxes being provisioned by
 * this process are left to the provisioner.
 */

import {
  type ReconcileAction,
  ReconcileActionSchema,
  type ReconcileSandboxesResponse,
  ReconcileSandboxesResponseSchema,
  type Vm,
  VmPowerState,
} from "@agentlab/api";
import type { Logger } from "@agentlab/core";
import { create } from "@bufbuild/protobuf";
import { nowTimestamp } from "../db/timestamps.js";
import type { RunnerHandle, RunnerPool } from "../runners/runner-pool.js";
import { errorText } from "../sandboxes/runner-call.js";
import type { SandboxLifecycle } from "../sandboxes/sandbox-lifecycle.js";
import { sandboxStateToProto } from "../sandboxes/sandbox-proto.js";
import type { SandboxRecord } from "../sandboxes/sandbox-record.js";
import { type SandboxStateName, STARTING_STATES } from "../sandboxes/sandbox-state-machine.js";
import { findSandbox, listSandboxes } from "../sandboxes/sandbox-store.js";
import { moveSandbox, type SandboxStateContext } from "../sandboxes/sandbox-transitions.js";
import { detachWorkspacesOfSandbox } from "../workspaces/workspace-store.js";

export interface ReconcilerDeps extends SandboxStateContext {
  runners: RunnerPool;
  lifecycle: SandboxLifecycle;
  logger: Logger;
  /** Cap on orphan VMs destroyed per sweep. */
  maxOrphanDestroys: number;
}

interface PlannedAction {
  action: ReconcileAction;
  runner: RunnerHandle;
  apply?: () => Promise<void>;
}

const RUNNING_STATES: readonly SandboxStateName[] = ["READY", "RUNNING"];

export class SandboxReconciler {
  constructor(private readonly deps: ReconcilerDeps) {}

  async sweep(options: { dryRun: boolean }): Promise<ReconcileSandboxesResponse> {
    const planned: PlannedAction[] = [];
    const unreachable: string[] = [];
    const live = listSandboxes(this.deps.db, { includeDestroyed: false, limit: 1_000_000 });
    for (const runner of this.deps.runners.all()) {
      let vms: Vm[];
      try {
        vms = (await runner.client.listVms({ includeForeign: true }, { timeoutMs: 30_000 })).vms;
      } catch (err) {
        unreachable.push(runner.name);
        this.deps.logger.warn(
          { runner: runner.name, err: errorText(err) },
          "reconciler: runner unreachable, nothing changed",
        );
        continue;
      }
      const first = this.deps.runners.all()[0];
      const rows = live.filter((s) => (s.runner ?? first?.name) === runner.name);
      planned.push(...this.planRows(runner, rows, new Map(vms.map((vm) => [vm.vmid, vm]))));
      planned.push(...this.planOrphans(runner, vms));
    }
    if (!options.dryRun) {
      for (const p of planned) {
        if (!p.apply) continue;
        try {
          await p.apply();
        } catch (err) {
          p.action.reason += ` (not applied: ${errorText(err)})`;
        }
      }
    }
    return create(ReconcileSandboxesResponseSchema, {
      actions: planned.map((p) => p.action),
      unreachableRunners: unreachable,
    });
  }

  private planRows(runner: RunnerHandle, rows: SandboxRecord[], vms: Map<number, Vm>): PlannedAction[] {
    const out: PlannedAction[] = [];
    for (const row of rows) {
      if (STARTING_STATES.includes(row.state) || this.deps.lifecycle.isProvisioning(row.vmid)) continue;
      const vm = vms.get(row.vmid);
      const replaced = vm !== undefined && !vm.owned && row.ownerTag !== null;
      if (!vm || replaced) {
        const reason = replaced
          ? `VM ${row.vmid} on runner ${runner.name} no longer carries our tag: ours is gone (the other VM is left alone)`
          : `VM ${row.vmid} not found on runner ${runner.name}`;
        out.push({
          runner,
          action: this.action(row, "mark_destroyed", reason, "DESTROYED"),
          apply: async () => {
            detachWorkspacesOfSandbox(this.deps.db, row.vmid, nowTimestamp(this.deps.clock));
            moveSandbox(this.deps, row.vmid, "DESTROYED", { reason });
          },
        });
      } else if (vm.state === VmPowerState.STOPPED && RUNNING_STATES.includes(row.state)) {
        const reason = `VM ${row.vmid} stopped unexpectedly while ${row.state}`;
        out.push({
          runner,
          action: this.action(row, "mark_failed", reason, "FAILED"),
          apply: async () => {
            moveSandbox(this.deps, row.vmid, "FAILED", { reason });
          },
        });
      }
    }
    return out;
  }

  private planOrphans(runner: RunnerHandle, vms: Vm[]): PlannedAction[] {
    const out: PlannedAction[] = [];
    for (const vm of vms) {
      if (!vm.owned || this.deps.lifecycle.isProvisioning(vm.vmid)) continue;
      const row = findSandbox(this.deps.db, vm.vmid);
      if (row && row.state !== "DESTROYED") continue;
      if (out.length >= this.deps.maxOrphanDestroys) {
        out.push({
          runner,
          action: create(ReconcileActionSchema, {
            vmid: vm.vmid,
            action: "skip",
            reason: `orphan VM ${vm.vmid} left for the next sweep (at most ${this.deps.maxOrphanDestroys} destroyed per sweep)`,
          }),
        });
        continue;
      }
      out.push({
        runner,
        action: create(ReconcileActionSchema, {
          vmid: vm.vmid,
          action: "destroy_orphan",
          reason: row
            ? `VM ${vm.vmid} carries our tag but its sandbox is DESTROYED`
            : `VM ${vm.vmid} carries our tag but no sandbox records it`,
        }),
        apply: async () => {
          await runner.client.destroyVm(
            { requestId: `orphan-${vm.vmid}-${nowTimestamp(this.deps.clock)}`, vmid: vm.vmid },
            { timeoutMs: 120_000 },
          );
        },
      });
    }
    return out;
  }

  private action(row: SandboxRecord, action: string, reason: string, to?: SandboxStateName): ReconcileAction {
    return create(ReconcileActionSchema, {
      vmid: row.vmid,
      action,
      reason,
      fromState: sandboxStateToProto(row.state),
      ...(to ? { toState: sandboxStateToProto(to) } : {}),
    });
  }
}
