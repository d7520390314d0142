/**
 * The guide's upgrade promise is made on a host whose sandboxes keep running while the daemon is
 * replaced ("Running sandboxes continue running during daemon upgrades"). On the local backend a
 * sandbox is a namespace process tree recorded under `<data_dir>/sandboxes/<vmid>/`, so to stand
 * for "the VMs survived the upgrade" we create real local sandboxes with the VMIDs of the database's
 * live rows, through the local backend itself: running for READY/RUNNING rows, provisioned but
 * stopped for the others. Without them the new daemon would rightly tombstone every migrated row
 * ("VM not found") and there would be nothing left to compare.
 */
import { createLocalBackend } from "@agentlab/runner/backends/local/local-backend";

export interface SurvivingVm {
  vmid: number;
  name: string;
  running: boolean;
}

export interface SurvivingVms {
  /** Destroys every VM created here (they carry `ownerTag`, so this backend may). */
  destroyAll(): Promise<void>;
}

const call = () => ({ requestId: `seed-${Math.random().toString(16).slice(2)}`, deadline: Date.now() + 60_000 });

export async function createSurvivingVms(
  sandboxDir: string,
  ownerTag: string,
  vms: readonly SurvivingVm[],
): Promise<SurvivingVms> {
  const backend = createLocalBackend({ sandboxDir, ownerTag });
  const created: number[] = [];
  const destroyAll = async () => {
    for (const vmid of created.splice(0)) await backend.destroy(call(), vmid).catch(() => undefined);
    await backend.close();
  };
  try {
    for (const vm of vms) {
      await backend.provision(call(), {
        vmid: vm.vmid,
        name: vm.name,
        network: { localMode: "none" },
        bootstrapJson: "{}",
        ownerTag,
        // A guest that just stays up: what matters to the daemon is that the process tree lives.
        guestCommand: ["sleep", "86400"],
      });
      created.push(vm.vmid);
      if (vm.running) await backend.start(call(), vm.vmid);
    }
  } catch (err) {
    await destroyAll();
    throw err;
  }
  return { destroyAll };
}
