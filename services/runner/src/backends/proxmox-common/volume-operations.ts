import type { CallContext } from "../../backend.js";
import { BackendError, isBackendError } from "../../backend-errors.js";
import { retryOnKinds } from "./backoff.js";
import type { ProxmoxCore } from "./proxmox-common-options.js";
import { ensureOwned, findVm } from "./vm-guards.js";

/**
 * Detached volumes (workspaces). Proxmox allocates a volume for an owner VMID ≥ 100 and wants its
 * name to start with `vm-<vmid>-`; the original passed vmid 0 and took `pvesm alloc`'s whole output
 * line as the volid (reference/proxmox.md §2 "Reference-implementation bugs to avoid").
 */
const STORAGE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const VOLUME_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,120}$/;
const VOLID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}:[A-Za-z0-9][A-Za-z0-9._/-]{0,200}$/;
const DISK_SLOT = /^(scsi([0-9]|[12][0-9]|30)|virtio([0-9]|1[0-5])|sata[0-5]|ide[0-3])$/;

function invalid(what: string, hint: string): BackendError {
  return new BackendError("invalid_argument", what, { hint });
}

export function validateVolid(volid: string): void {
  if (!VOLID.test(volid) || volid.includes("..")) {
    throw invalid(
      `volume id ${JSON.stringify(volid)} is not a Proxmox volid`,
      "expected <storage>:<volume>, e.g. local-zfs:vm-1000-ws-data",
    );
  }
}

export function validateSlot(slot: string): void {
  if (!DISK_SLOT.test(slot) || slot === "ide2") {
    throw invalid(
      `disk slot ${JSON.stringify(slot)} is not usable`,
      "use scsi1…scsi30 or virtio1…virtio15 (ide2 holds the cloud-init drive)",
    );
  }
}

export async function createVolume(
  core: ProxmoxCore,
  ctx: CallContext,
  spec: { storage: string; name: string; sizeGb: number },
): Promise<{ volid: string }> {
  if (!STORAGE_ID.test(spec.storage))
    throw invalid(
      `storage id ${JSON.stringify(spec.storage)} is invalid`,
      "use a Proxmox storage id such as local-zfs",
    );
  if (!VOLUME_NAME.test(spec.name))
    throw invalid(`volume name ${JSON.stringify(spec.name)} is invalid`, "use letters, digits, '.', '_', '-'");
  if (!Number.isInteger(spec.sizeGb) || spec.sizeGb < 1)
    throw invalid(`volume size ${spec.sizeGb} GiB is invalid`, "give a whole number of GiB ≥ 1");
  const named = /^vm-(\d+)-/.exec(spec.name);
  const owner = named ? Number(named[1]) : core.volumeOwnerVmid;
  if (owner === undefined || owner < 100) {
    throw invalid(
      `volume ${spec.name} needs an owner VMID ≥ 100 and none is configured`,
      "name it vm-<vmid>-<name>, or configure the runner's volume owner VMID (Proxmox refuses vmid 0)",
    );
  }
  const fileName = named ? spec.name : `vm-${owner}-${spec.name}`;
  const volid = await retryOnKinds(ctx, core.deps, core.lockRetry, ["lock_timeout"], () =>
    core.driver.volumeAlloc(ctx, spec.storage, owner, fileName, `${spec.sizeGb}G`),
  );
  return { volid };
}

export async function attachVolume(core: ProxmoxCore, ctx: CallContext, vmid: number, volid: string, slot: string) {
  validateVolid(volid);
  validateSlot(slot);
  const config = await findVm(core, ctx, vmid);
  if (!config) throw new BackendError("not_found", `VM ${vmid} does not exist; cannot attach ${volid}`, { vmid });
  await ensureOwned(core, ctx, vmid, config, `attach ${volid} to`);
  await retryOnKinds(ctx, core.deps, core.lockRetry, ["locked", "lock_timeout", "unreachable"], () =>
    core.driver.setConfig(ctx, vmid, { [slot]: volid }),
  );
}

export async function detachVolume(core: ProxmoxCore, ctx: CallContext, vmid: number, slot: string) {
  validateSlot(slot);
  const config = await findVm(core, ctx, vmid);
  if (!config)
    throw new BackendError("not_found", `VM ${vmid} does not exist; nothing to detach from ${slot}`, { vmid });
  await ensureOwned(core, ctx, vmid, config, `detach ${slot} from`);
  if (config[slot] === undefined) return; // already detached
  await retryOnKinds(ctx, core.deps, core.lockRetry, ["locked", "lock_timeout", "unreachable"], () =>
    core.driver.setConfig(ctx, vmid, {}, [slot]),
  );
}

export async function deleteVolume(core: ProxmoxCore, ctx: CallContext, volid: string) {
  validateVolid(volid);
  try {
    await retryOnKinds(ctx, core.deps, core.lockRetry, ["lock_timeout"], () => core.driver.volumeFree(ctx, volid));
  } catch (err) {
    if (isBackendError(err, "not_found")) return; // already gone
    throw err;
  }
}
