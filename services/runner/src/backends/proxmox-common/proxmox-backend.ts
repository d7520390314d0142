import type { AdoptionHint, Backend, CallContext, VmInfo, VmPowerState } from "../../backend.js";
import { BackendError, isBackendError } from "../../backend-errors.js";
import { retryOnKinds } from "./backoff.js";
import { waitForGuestAddress } from "./guest-ip-waiter.js";
import type { ProxmoxCore } from "./proxmox-common-options.js";
import type { PveConfig, PveVmStatus } from "./pve-driver.js";
import { deleteSnippetsOf } from "./snippet-writer.js";
import { templateProblems } from "./template-validator.js";
import { configString, parseTags } from "./vm-config-fields.js";
import { ensureOwned, findVm, isOwned, mutate, read } from "./vm-guards.js";
import { provisionVm } from "./vm-provisioner.js";
import { attachVolume, createVolume, deleteVolume, detachVolume } from "./volume-operations.js";

/**
 * The Backend both Proxmox flavours share: decisions here, protocol in the driver. Ownership before
 * stop/destroy, a missing VM on stop/destroy is success, "not found" only when Proxmox answered
 * (DESIGN §2; reference/proxmox.md §5.7 scenarios 7, 8).
 */

/** `qmpstatus` distinguishes paused/prelaunch/suspended; the original's parser rejected `paused` (§2). */
export function powerState(status: PveVmStatus | { status?: string; qmpstatus?: string }): VmPowerState {
  const value = status.qmpstatus ?? status.status;
  if (value === "running") return "running";
  if (value === "stopped") return "stopped";
  if (value === "paused" || value === "suspended" || value === "prelaunch") return "paused";
  return "unknown";
}

/** §1.1: snapshot names `[A-Za-z][A-Za-z0-9_-]+`, ≤ 40, not `current`/`pending`. */
function validateSnapshotName(name: string): void {
  if (!/^[A-Za-z][A-Za-z0-9_-]{1,39}$/.test(name) || name === "current" || name === "pending") {
    throw new BackendError("invalid_argument", `snapshot name ${JSON.stringify(name)} is not allowed by Proxmox`, {
      hint: "start with a letter, then letters, digits, '_' or '-', at most 40 characters; not 'current' or 'pending'",
    });
  }
}

export function createProxmoxBackend(core: ProxmoxCore): Backend {
  const { driver, deps } = core;

  const vmInfo = (vmid: number, status: PveVmStatus, config: PveConfig | undefined): VmInfo => {
    const tags = parseTags(status.tags ?? configString(config ?? {}, "tags"));
    const lock = status.lock ?? configString(config ?? {}, "lock");
    return {
      vmid,
      name: status.name ?? configString(config ?? {}, "name") ?? "",
      state: powerState(status),
      owned: tags.includes(core.ownerTag) || (config !== undefined && isOwned(core, config)),
      tags,
      ...(lock ? { lock } : {}),
    };
  };

  const taggedOurs = (current: PveVmStatus) => parseTags(current.tags).includes(core.ownerTag);

  const status = async (ctx: CallContext, vmid: number): Promise<VmInfo> => {
    // A missing VM surfaces as not_found from Proxmox's own text; unreachable stays unreachable.
    const current = await read(core, ctx, () => driver.getStatus(ctx, vmid));
    // status/current carries name, lock and tags; only an untagged VM needs its config (the marker).
    const config = taggedOurs(current) ? undefined : await read(core, ctx, () => driver.getConfig(ctx, vmid));
    return vmInfo(vmid, current, config);
  };

  /**
   * The VM's status once it is known to be ours, or undefined when Proxmox answered that it does not
   * exist. status/current carries the tags, so a tagged VM costs one request; the config is read only
   * for an untagged one (an interrupted clone's marker, or adoption).
   */
  const ownedStatus = async (
    ctx: CallContext,
    vmid: number,
    operation: string,
    adopt?: AdoptionHint,
  ): Promise<PveVmStatus | undefined> => {
    let current: PveVmStatus;
    try {
      current = await read(core, ctx, () => driver.getStatus(ctx, vmid));
    } catch (err) {
      if (isBackendError(err, "not_found")) return undefined;
      throw err;
    }
    if (taggedOurs(current)) return current;
    const config = await findVm(core, ctx, vmid);
    if (!config) return undefined;
    await ensureOwned(core, ctx, vmid, config, operation, adopt);
    return current;
  };

  const isStopped = async (ctx: CallContext, vmid: number) => {
    try {
      return powerState(await driver.getStatus(ctx, vmid)) === "stopped";
    } catch (err) {
      return isBackendError(err, "not_found");
    }
  };

  const stopOwned = (ctx: CallContext, vmid: number) =>
    mutate(
      core,
      ctx,
      () =>
        driver.stop(ctx, vmid).catch((err) => {
          if (!isBackendError(err, "not_found")) throw err; // §1.5: stop of a missing VM → idempotent success
        }),
      () => isStopped(ctx, vmid),
    );

  const requireOwnedVm = async (ctx: CallContext, vmid: number, operation: string): Promise<PveVmStatus> => {
    const current = await ownedStatus(ctx, vmid, operation);
    if (!current)
      throw new BackendError("not_found", `cannot ${operation} VM ${vmid}: it does not exist on the node`, { vmid });
    return current;
  };

  const lockRetried = (ctx: CallContext, fn: () => Promise<void>) =>
    retryOnKinds(ctx, deps, core.lockRetry, ["locked", "lock_timeout"], fn);

  return {
    async info(ctx) {
      const node = await driver.node(ctx);
      const [version, nodeStatus, vms] = await Promise.all([
        read(core, ctx, () => driver.version(ctx)),
        read(core, ctx, () => driver.nodeStatus(ctx)),
        read(core, ctx, () => driver.listVms(ctx)),
      ]);
      return {
        kind: driver.kind,
        node,
        version,
        capacity: {
          cores: nodeStatus.cpus,
          memoryMb: Math.floor(nodeStatus.memoryBytes / 1024 / 1024),
          runningVms: vms.filter((vm) => vm.status === "running").length,
          maxVms: core.maxVms,
        },
      };
    },

    provision(ctx, spec) {
      return core.ledger.run(ctx.requestId, spec.vmid, () => provisionVm(core, ctx, spec));
    },

    async start(ctx, vmid) {
      if (powerState(await requireOwnedVm(ctx, vmid, "start")) === "running") return;
      // `VM is locked (clone)` / flock timeouts while a clone finishes are retried (§5.7 scenario 4).
      await mutate(
        core,
        ctx,
        () =>
          driver.start(ctx, vmid).catch(async (err) => {
            if (isBackendError(err) && /already running/i.test(err.message)) return;
            throw err;
          }),
        async () => powerState(await driver.getStatus(ctx, vmid)) === "running",
      );
    },

    async stop(ctx, vmid, opts?: { adopt?: AdoptionHint }) {
      const current = await ownedStatus(ctx, vmid, "stop", opts?.adopt);
      if (!current || powerState(current) === "stopped") return;
      await stopOwned(ctx, vmid);
    },

    async destroy(ctx, vmid, opts?: { adopt?: AdoptionHint }) {
      core.firstBoot.forget(vmid);
      const current = await ownedStatus(ctx, vmid, "destroy", opts?.adopt);
      if (!current) {
        await deleteSnippetsOf(core.snippets, vmid);
        return "already_gone";
      }
      // §1.5: destroy refuses a running VM (`VM N is running - destroy failed`): stop first.
      if (powerState(current) !== "stopped") await stopOwned(ctx, vmid);
      await mutate(
        core,
        ctx,
        () =>
          driver.destroy(ctx, vmid).catch((err) => {
            if (!isBackendError(err, "not_found")) throw err; // already gone = success
          }),
        async () => (await findVm(core, ctx, vmid)) === undefined,
      );
      // Our snippets are named after the VMID, so the directory scan finds the one cicustom names.
      await deleteSnippetsOf(core.snippets, vmid);
      return "destroyed";
    },

    status,

    waitGuestIp: (ctx, vmid) => waitForGuestAddress(core, ctx, vmid),

    async listVms(ctx, opts) {
      const vms = await read(core, ctx, () => driver.listVms(ctx));
      return vms
        .map((vm) => vmInfo(vm.vmid, { status: vm.status ?? "unknown", ...vm }, undefined))
        .filter((vm) => vm.owned || opts?.includeForeign === true)
        .sort((a, b) => a.vmid - b.vmid);
    },

    async snapshotCreate(ctx, vmid, name) {
      validateSnapshotName(name);
      await requireOwnedVm(ctx, vmid, `snapshot '${name}' of`);
      await lockRetried(ctx, () => driver.snapshotCreate(ctx, vmid, name));
    },

    async snapshotRollback(ctx, vmid, name) {
      validateSnapshotName(name);
      await requireOwnedVm(ctx, vmid, `roll back to snapshot '${name}'`);
      await lockRetried(ctx, () => driver.snapshotRollback(ctx, vmid, name));
    },

    async snapshotDelete(ctx, vmid, name) {
      validateSnapshotName(name);
      const config = await findVm(core, ctx, vmid);
      if (!config) return;
      await ensureOwned(core, ctx, vmid, config, `delete snapshot '${name}' of`);
      await lockRetried(ctx, () =>
        driver.snapshotDelete(ctx, vmid, name).catch((err) => {
          if (!isBackendError(err, "not_found")) throw err; // deleting a missing snapshot is done
        }),
      );
    },

    volumeCreate: (ctx, spec) => createVolume(core, ctx, spec),
    volumeAttach: (ctx, vmid, volid, slot) => attachVolume(core, ctx, vmid, volid, slot),
    volumeDetach: (ctx, vmid, slot) => detachVolume(core, ctx, vmid, slot),
    volumeDelete: (ctx, volid) => deleteVolume(core, ctx, volid),

    async validateTemplate(ctx, templateVmid) {
      if (!Number.isInteger(templateVmid) || templateVmid < 100) {
        return { ok: false, problems: [`template VMID ${templateVmid} is invalid: VMIDs start at 100`] };
      }
      const node = await driver.node(ctx);
      const config = await findVm(core, ctx, templateVmid);
      const problems = templateProblems(templateVmid, config, node);
      return { ok: problems.length === 0, problems };
    },

    close: () => driver.close(),
  };
}
