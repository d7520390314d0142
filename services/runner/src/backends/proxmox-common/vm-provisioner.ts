import { promises as fs } from "node:fs";
import type { CallContext, ProvisionSpec, VmInfo } from "../../backend.js";
import { BackendError, isBackendError } from "../../backend-errors.js";
import { checkDeadline, retryOnKinds, sleepWithinDeadline } from "./backoff.js";
import { applyFirewallGroup, validateFirewallGroup } from "./firewall-group.js";
import { bootFactsOf } from "./first-boot-facts.js";
import { unlockIfLeaked } from "./leaked-lock.js";
import type { ProxmoxCore } from "./proxmox-common-options.js";
import type { PveConfig } from "./pve-driver.js";
import { isLinkedCloneRefusal } from "./pve-errors.js";
import { deleteSnippetsOf, validateHostname, type WrittenSnippet, writeSnippet } from "./snippet-writer.js";
import {
  bootDisk,
  buildNet0,
  configString,
  diskStorage,
  isSafeRequestId,
  isTemplate,
  parseDescriptionMarker,
  parseTags,
  renderDescription,
  withTag,
} from "./vm-config-fields.js";
import { findVm, isOwned } from "./vm-guards.js";

/**
 * Provision = VMID free? → clone (linked when the template allows, full only when linked is refused)
 * → wait for the task → snippet → configure → resize. reference/proxmox.md §1.5 clone, §3 pitfalls;
 * agentlab-reference.md §8 item 24 (check the VMID is free; only destroy what we cloned).
 */

type Existing = "absent" | "ours" | "foreign";

export function validateProvisionSpec(core: ProxmoxCore, ctx: CallContext, spec: ProvisionSpec): number {
  const bad = (what: string, hint: string) => new BackendError("invalid_argument", what, { vmid: spec.vmid, hint });
  if (!Number.isInteger(spec.vmid) || spec.vmid < 100 || spec.vmid > 999_999_999) {
    throw bad(
      `VMID ${spec.vmid} is outside Proxmox's range`,
      "VMIDs run from 100 to 999999999 (reference/proxmox.md §1.1)",
    );
  }
  if (spec.templateVmid === undefined || !Number.isInteger(spec.templateVmid) || spec.templateVmid < 100) {
    throw bad(`template VMID ${String(spec.templateVmid)} is missing or invalid`, "set template_vmid in the profile");
  }
  validateHostname(spec.name);
  if (spec.ownerTag.toLowerCase() !== core.ownerTag) {
    throw bad(
      `provision asked for ownership tag '${spec.ownerTag}' but this runner tags VMs '${core.ownerTag}'`,
      "control and runner must share deployment_id",
    );
  }
  if (!isSafeRequestId(ctx.requestId)) {
    throw bad(
      `request id ${JSON.stringify(ctx.requestId)} has characters outside [A-Za-z0-9._:-]`,
      "use a UUID or similar",
    );
  }
  if (spec.cores !== undefined && (!Number.isInteger(spec.cores) || spec.cores < 1)) {
    throw bad(`cores must be an integer ≥ 1, got ${spec.cores}`, "fix resources.cores in the profile");
  }
  if (spec.memoryMb !== undefined && (!Number.isInteger(spec.memoryMb) || spec.memoryMb < 16)) {
    throw bad(`memory must be an integer ≥ 16 MiB, got ${spec.memoryMb}`, "fix resources.memory_mb in the profile");
  }
  for (const [key, value] of [
    ["network.bridge", spec.network.bridge],
    ["network.model", spec.network.model],
  ] as const) {
    if (value !== undefined && !/^[A-Za-z0-9_.-]{1,32}$/.test(value)) {
      throw bad(`${key} ${JSON.stringify(value)} is not a valid Proxmox identifier`, "use e.g. vmbr1 / virtio");
    }
  }
  if (spec.network.firewallGroup !== undefined) validateFirewallGroup(spec.network.firewallGroup, spec.vmid);
  return spec.templateVmid;
}

/**
 * Waits until a clone's `lock: clone` is gone; returns the final config, or undefined if the VM
 * vanished. A lock no clone task holds any more is cleared only when the operator allowed it.
 */
async function waitCloneSettled(
  core: ProxmoxCore,
  ctx: CallContext,
  vmid: number,
  templateVmid: number,
): Promise<PveConfig | undefined> {
  const stillLocked = () =>
    new BackendError("locked", `VM ${vmid} still carries 'lock: clone' at the deadline`, {
      vmid,
      hint: `if no clone task is running for VM ${vmid}, the lock leaked: run 'qm unlock ${vmid}' on the node, or destroy the VM`,
    });
  for (let attempt = 0; ; attempt++) {
    let config: PveConfig | undefined;
    try {
      config = await findVm(core, ctx, vmid);
    } catch (err) {
      // A read cut short by the deadline: what we know is that the lock was still there.
      if (attempt > 0 && core.deps.now() >= ctx.deadline) throw stillLocked();
      throw err;
    }
    if (!config || configString(config, "lock") !== "clone") return config;
    if (await unlockIfLeaked(core, ctx, vmid, config, templateVmid)) continue;
    if (!(await sleepWithinDeadline(ctx, core.deps, core.taskPoll, attempt))) throw stillLocked();
  }
}

/**
 * Who holds `vmid` now. A placeholder config with `lock: clone` carries no description yet (§1.5
 * clone worker), so wait for it to settle before judging by the marker.
 */
async function whoHolds(core: ProxmoxCore, ctx: CallContext, vmid: number, templateVmid: number): Promise<Existing> {
  const config = await waitCloneSettled(core, ctx, vmid, templateVmid);
  if (!config) return "absent";
  const marker = parseDescriptionMarker(configString(config, "description"));
  return marker?.owner === core.ownerTag && marker.requestId === ctx.requestId ? "ours" : "foreign";
}

function alreadyExists(vmid: number): BackendError {
  return new BackendError("already_exists", `VM ${vmid} already exists on the Proxmox node`, {
    vmid,
    hint: "control allocates another VMID and retries (reference/proxmox.md §3 VMID races)",
  });
}

/** Clone with retries. Returns once the clone task has finished and the VM exists. */
async function cloneVm(
  core: ProxmoxCore,
  ctx: CallContext,
  spec: ProvisionSpec,
  templateVmid: number,
  linked: boolean,
) {
  let full = !linked;
  const description = renderDescription(spec.description, { owner: core.ownerTag, requestId: ctx.requestId });
  for (let attempt = 0; ; attempt++) {
    checkDeadline(ctx, core.deps, `clone of template ${templateVmid} to VM ${spec.vmid}`);
    let failure: BackendError;
    try {
      await core.driver.clone(ctx, { templateVmid, newVmid: spec.vmid, name: spec.name, full, description });
      return;
    } catch (err) {
      if (!isBackendError(err)) throw err;
      failure = err;
    }
    if (!full && isLinkedCloneRefusal(failure.message)) {
      // §1.5/§3: storage (or source) cannot clone base volumes. Fall back to a full clone, after
      // removing a residual VM only if it is ours.
      core.deps.log.warn("linked clone refused; falling back to a full clone", {
        vmid: spec.vmid,
        template: templateVmid,
        reason: failure.message,
      });
      const residual = await findVm(core, ctx, spec.vmid);
      if (residual) {
        if (!isOwned(core, residual)) throw alreadyExists(spec.vmid);
        await core.driver.destroy(ctx, spec.vmid).catch(() => undefined);
      }
      full = true;
      continue;
    }
    if (failure.kind === "unreachable" || failure.kind === "already_exists") {
      // Never re-send a clone blindly (§5.7 scenario 11): the POST may have arrived. Give the worker
      // time to write its placeholder config, then look.
      if (failure.kind === "unreachable")
        await core.deps.sleep(core.cloneRecheckGraceMs, ctx.signal).catch(() => undefined);
      const holder = await whoHolds(core, ctx, spec.vmid, templateVmid);
      if (holder === "ours") return;
      if (holder === "foreign") throw alreadyExists(spec.vmid);
      if (failure.kind === "already_exists") continue; // it was there and vanished: try again
    } else if (failure.kind !== "lock_timeout" && failure.kind !== "locked") {
      throw failure;
    }
    // Lock contention (`clone failed: can't lock file …`, or the template is `lock:`ed): PVE removed
    // the half-made clone itself; back off with jitter and try again within the deadline.
    if (!(await sleepWithinDeadline(ctx, core.deps, core.lockRetry, attempt))) throw failure;
  }
}

/** Writes the sandbox's settings over the clone's config; returns what it wrote. */
async function configureVm(
  core: ProxmoxCore,
  ctx: CallContext,
  spec: ProvisionSpec,
  snippet: WrittenSnippet,
  config: PveConfig,
): Promise<Record<string, string>> {
  const values: Record<string, string> = {
    net0: buildNet0(configString(config, "net0"), {
      ...(spec.network.model ? { model: spec.network.model } : {}),
      ...(spec.network.bridge ? { bridge: spec.network.bridge } : {}),
      // A group filters only through the NIC's flag; without one, the profile's `firewall` decides.
      ...(spec.network.firewallGroup !== undefined
        ? { firewall: true }
        : spec.network.firewall !== undefined && { firewall: spec.network.firewall }),
    }),
    ipconfig0: "ip=dhcp",
    cicustom: `user=${snippet.volid}`,
    tags: withTag(configString(config, "tags"), core.ownerTag),
    description: renderDescription(spec.description, { owner: core.ownerTag, requestId: ctx.requestId }),
  };
  if (spec.cores !== undefined) values.cores = String(spec.cores);
  if (spec.memoryMb !== undefined) values.memory = String(spec.memoryMb);
  // PUT config is idempotent: retrying it after a lost answer is safe.
  await retryOnKinds(ctx, core.deps, core.lockRetry, ["locked", "lock_timeout", "unreachable"], () =>
    core.driver.setConfig(ctx, spec.vmid, values),
  );
  return values;
}

async function resizeIfAsked(core: ProxmoxCore, ctx: CallContext, spec: ProvisionSpec, config: PveConfig) {
  if (spec.rootSizeGb === undefined) return;
  const disk = bootDisk(config);
  if (!disk) {
    throw new BackendError("invalid_argument", `VM ${spec.vmid} has no boot disk to grow to ${spec.rootSizeGb} GiB`, {
      vmid: spec.vmid,
      hint: "give the template a boot disk (scsi0) or drop root_size_gb from the profile",
    });
  }
  if (disk.sizeGb !== undefined && disk.sizeGb >= spec.rootSizeGb) return;
  await retryOnKinds(ctx, core.deps, core.lockRetry, ["locked", "lock_timeout"], () =>
    core.driver.resize(ctx, spec.vmid, disk.key, `${spec.rootSizeGb}G`),
  );
}

/** Best-effort removal of what this provision created, with its own grace period. */
async function cleanupFailedProvision(core: ProxmoxCore, ctx: CallContext, vmid: number): Promise<void> {
  const cleanupCtx: CallContext = {
    requestId: `${ctx.requestId}:cleanup`,
    deadline: core.deps.now() + core.cleanupGraceMs,
  };
  try {
    const config = await findVm(core, cleanupCtx, vmid);
    if (config && isOwned(core, config)) {
      // A persistent `lock:` (e.g. leaked) will not clear by waiting: only flock contention and lost
      // answers are retried here; the orphan sweep handles the rest.
      await retryOnKinds(cleanupCtx, core.deps, core.lockRetry, ["lock_timeout", "unreachable"], () =>
        core.driver.destroy(cleanupCtx, vmid).catch((err) => {
          if (!isBackendError(err, "not_found")) throw err;
        }),
      );
    }
  } catch (err) {
    core.deps.log.warn("cleanup after a failed provision did not finish; the orphan sweep will retry", {
      vmid,
      error: String(err),
    });
  }
  await deleteSnippetsOf(core.snippets, vmid).catch(() => undefined);
}

/**
 * Provisions the VM and answers with what it knows of it, without asking Proxmox again: a clone
 * is created stopped and nothing here starts it, and the name and tags are the ones just written.
 */
export async function provisionVm(core: ProxmoxCore, ctx: CallContext, spec: ProvisionSpec): Promise<VmInfo> {
  const templateVmid = validateProvisionSpec(core, ctx, spec);
  // The snippet depends on the request alone, so it is written while the clone runs instead of
  // after it. Until the VM is ours, a failure removes this one file and no other snippet of the
  // VMID: a VMID someone else holds may have theirs.
  const snippetWrite = writeSnippet(core.snippets, spec.vmid, spec.name, spec.bootstrapJson);
  snippetWrite.catch(() => undefined); // awaited below, where a failure to write it surfaces
  try {
    await cloneFromTemplate(core, ctx, spec, templateVmid);
  } catch (err) {
    await snippetWrite.then((snippet) => fs.unlink(snippet.filePath)).catch(() => undefined);
    throw err;
  }
  try {
    const settled = await waitCloneSettled(core, ctx, spec.vmid, templateVmid);
    if (!settled)
      throw new BackendError("task_failed", `VM ${spec.vmid} vanished right after its clone finished`, {
        vmid: spec.vmid,
      });
    // A previous, interrupted attempt's file is left to destroy, which removes every snippet of the
    // VMID: scanning the directory here too would cost every provision a readdir for a rare case.
    const snippet = await snippetWrite;
    // The settled config was read just now; nothing of ours changed it since (no second GET).
    const written = await configureVm(core, ctx, spec, snippet, settled);
    if (spec.network.firewallGroup !== undefined) {
      await applyFirewallGroup(core, ctx, spec.vmid, spec.network.firewallGroup);
    }
    await resizeIfAsked(core, ctx, spec, settled);
    core.firstBoot.remember(spec.vmid, bootFactsOf({ ...settled, ...written }));
    return { vmid: spec.vmid, name: spec.name, state: "stopped", owned: true, tags: parseTags(written.tags) };
  } catch (err) {
    await cleanupFailedProvision(core, ctx, spec.vmid);
    throw err;
  }
}

/**
 * Clones the template onto the VMID under the template storage's clone slot, or finds this request's
 * own earlier clone. No "is the VMID free?" read first: Proxmox refuses a clone onto an existing
 * VMID under the target's flock (`config file already exists`), which a read before it could only
 * race with; cloneVm then looks at who holds it, and a retry of this very request resumes its clone.
 */
async function cloneFromTemplate(
  core: ProxmoxCore,
  ctx: CallContext,
  spec: ProvisionSpec,
  templateVmid: number,
): Promise<void> {
  const template = await core.templates.get(core, ctx, templateVmid);
  if (!template) {
    // A retry whose template vanished meanwhile may still find its own finished clone.
    if ((await whoHolds(core, ctx, spec.vmid, templateVmid)) !== "ours") {
      throw new BackendError("not_found", `template VM ${templateVmid} does not exist on the Proxmox node`, {
        vmid: templateVmid,
        hint: "fix the profile's template_vmid, or run ValidateTemplate to see what the template needs",
      });
    }
  } else {
    const disk = bootDisk(template);
    const storage = (disk && diskStorage(template, disk.key)) ?? "unknown-storage";
    const release = await core.limiter.acquire(`${templateVmid}@${storage}`, {
      deadline: ctx.deadline,
      now: core.deps.now,
      ...(ctx.signal ? { signal: ctx.signal } : {}),
    });
    try {
      // Linked only from a template (§1.5: `full` defaults to 0 for templates, 1 otherwise).
      await cloneVm(core, ctx, spec, templateVmid, isTemplate(template));
    } catch (err) {
      core.templates.forget(templateVmid); // it may have changed under us: read it again next time
      throw err;
    } finally {
      release();
    }
  }
}
