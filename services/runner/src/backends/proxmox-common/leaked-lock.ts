import type { CallContext } from "../../backend.js";
import type { ProxmoxCore } from "./proxmox-common-options.js";
import type { PveConfig } from "./pve-driver.js";
import { configString } from "./vm-config-fields.js";
import { isOwned, read } from "./vm-guards.js";

/**
 * A `lock: clone` that no clone worker holds any more (a crashed worker, reference/proxmox.md §1.6,
 * §5.7 scenario 7). Cleared only when the operator turned `unlockLeakedCloneLocks` on, the backend
 * can (`qm unlock`), the VM is ours, and no task that could hold the lock is running: none acting on
 * the VM itself and no `qmclone` of its template — a clone task's id is its *source* VMID (§1.4), so
 * a clone into this VM shows up under the template. Returns true when it unlocked.
 */
export async function unlockIfLeaked(
  core: ProxmoxCore,
  ctx: CallContext,
  vmid: number,
  config: PveConfig,
  templateVmid: number | undefined,
): Promise<boolean> {
  const unlock = core.driver.unlock;
  if (!core.unlockLeakedCloneLocks || !unlock || templateVmid === undefined) return false;
  if (configString(config, "lock") !== "clone" || !isOwned(core, config)) return false;
  const tasks = await read(core, ctx, () => core.driver.activeTasks(ctx));
  const holder = tasks.find(
    (task) => task.id === String(vmid) || (task.type === "qmclone" && task.id === String(templateVmid)),
  );
  if (holder) return false;
  await unlock(ctx, vmid);
  core.deps.log.warn("cleared a leaked 'lock: clone' (no clone task was running for the VM or its template)", {
    vmid,
    template: templateVmid,
  });
  return true;
}
