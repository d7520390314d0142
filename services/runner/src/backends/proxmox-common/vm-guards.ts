import type { AdoptionHint, CallContext } from "../../backend.js";
import { BackendError, type BackendErrorKind, isBackendError } from "../../backend-errors.js";
import { retryOnKinds, sleepWithinDeadline } from "./backoff.js";
import type { ProxmoxCore } from "./proxmox-common-options.js";
import type { PveConfig } from "./pve-driver.js";
import { configString, parseDescriptionMarker, parseTags, withTag } from "./vm-config-fields.js";

/**
 * The checks every operation shares: reads that survive a flaky proxy, "does this VM exist"
 * answered only by Proxmox itself, ownership, and mutations that never blindly repeat after a lost
 * answer.
 */

/** Reads are idempotent: retry a bounded number of times when Proxmox is unreachable (§1.3 59x). */
export function read<T>(core: ProxmoxCore, ctx: CallContext, fn: () => Promise<T>): Promise<T> {
  return retryOnKinds(ctx, core.deps, core.lockRetry, ["unreachable"], fn, core.readAttempts);
}

/**
 * The VM's config, or `undefined` when Proxmox answered that it does not exist. Unreachable stays an
 * error: "not found" is acted on only when the backend answered (DESIGN §2).
 */
export async function findVm(core: ProxmoxCore, ctx: CallContext, vmid: number): Promise<PveConfig | undefined> {
  try {
    return await read(core, ctx, () => core.driver.getConfig(ctx, vmid));
  } catch (err) {
    if (isBackendError(err, "not_found")) return undefined;
    throw err;
  }
}

/** Ours = carries our tag, or our description marker (a clone interrupted before it was tagged). */
export function isOwned(core: ProxmoxCore, config: PveConfig): boolean {
  if (parseTags(configString(config, "tags")).includes(core.ownerTag)) return true;
  return parseDescriptionMarker(configString(config, "description"))?.owner === core.ownerTag;
}

/**
 * Refuses to act on VMs that are not ours (DESIGN §2). A VM migrated from the original AgentLab has
 * no tag: with an adoption hint whose VMID and name match, we tag it and go on.
 */
export async function ensureOwned(
  core: ProxmoxCore,
  ctx: CallContext,
  vmid: number,
  config: PveConfig,
  operation: string,
  adopt?: AdoptionHint,
): Promise<void> {
  if (isOwned(core, config)) return;
  const name = configString(config, "name");
  // The original AgentLab never tagged its VMs: a VM with any agentlab-* tag belongs to another
  // deployment (a staging copy, a second install) and is never adopted.
  const otherDeployment = (configString(config, "tags") ?? "").split(/[;,\s]+/).some((t) => t.startsWith("agentlab-"));
  if (adopt && !otherDeployment && adopt.vmid === vmid && name !== undefined && adopt.name === name) {
    await retryOnKinds(ctx, core.deps, core.lockRetry, ["locked", "lock_timeout", "unreachable"], () =>
      core.driver.setConfig(ctx, vmid, { tags: withTag(configString(config, "tags"), core.ownerTag) }),
    );
    core.deps.log.info("adopted a migrated VM: tagged it as ours", { vmid, name, tag: core.ownerTag });
    return;
  }
  const why = adopt
    ? `the adoption hint (VMID ${adopt.vmid}, name ${JSON.stringify(adopt.name)}) does not match (VM name ${JSON.stringify(name ?? "")})`
    : "no adoption hint was given";
  throw new BackendError(
    "not_owned",
    `refusing to ${operation} VM ${vmid} (${name ?? "no name"}): it lacks our tag '${core.ownerTag}' and ${why}`,
    {
      vmid,
      hint: "this VM belongs to another deployment or to someone else; if it is a sandbox migrated from the original AgentLab, retry with its recorded VMID and name as adoption hint",
    },
  );
}

/**
 * A mutation whose answer can be lost (596, reset, timeout). Instead of re-sending blindly, ask
 * Proxmox whether it already happened (`done`); re-send only if not, a bounded number of times.
 * Lock errors are retried with back-off until the deadline (§3).
 */
export async function mutate(
  core: ProxmoxCore,
  ctx: CallContext,
  op: () => Promise<void>,
  done: () => Promise<boolean>,
  retryKinds: readonly BackendErrorKind[] = ["locked", "lock_timeout"],
): Promise<void> {
  let lostAnswers = 0;
  let lastRetryable: BackendError | undefined;
  for (let attempt = 0; ; attempt++) {
    try {
      await op();
      return;
    } catch (err) {
      if (!isBackendError(err)) throw err;
      if (lastRetryable && err.kind === "deadline") throw lastRetryable;
      lastRetryable = err;
      if (err.kind === "unreachable") {
        lostAnswers++;
        if (await done().catch(() => false)) return;
        if (lostAnswers >= core.readAttempts) throw err;
      } else if (!retryKinds.includes(err.kind)) {
        throw err;
      }
      if (!(await sleepWithinDeadline(ctx, core.deps, core.lockRetry, attempt))) throw err;
    }
  }
}
