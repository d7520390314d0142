import type { CallContext } from "../../backend.js";
import type { ProxmoxCore } from "./proxmox-common-options.js";
import type { PveConfig } from "./pve-driver.js";
import { findVm } from "./vm-guards.js";

/**
 * Template configs, read at most once per TEMPLATE_TTL_MS per template: a wave of clones (fifty
 * jobs queued at once) costs Proxmox one read of the template instead of one per clone. What the
 * config decides — linked clone or full, which storage's clone slot — changes only when an operator
 * rebuilds the template, and a clone that fails forgets the entry, so the next one reads it afresh.
 * A missing template is never remembered. ValidateTemplate reads the template itself, always.
 */
export const TEMPLATE_TTL_MS = 10_000;

export interface TemplateCache {
  /** The template's config, or undefined when Proxmox answered that it does not exist. */
  get(core: ProxmoxCore, ctx: CallContext, templateVmid: number): Promise<PveConfig | undefined>;
  forget(templateVmid: number): void;
}

export function createTemplateCache(now: () => number, ttlMs = TEMPLATE_TTL_MS): TemplateCache {
  // Promises, so concurrent clones of one template share a single read.
  const entries = new Map<number, { readAt: number; config: Promise<PveConfig | undefined> }>();
  return {
    get(core, ctx, templateVmid) {
      const entry = entries.get(templateVmid);
      if (entry && now() - entry.readAt < ttlMs) return entry.config;
      const config = findVm(core, ctx, templateVmid);
      entries.set(templateVmid, { readAt: now(), config });
      config.then(
        (found) => {
          if (!found && entries.get(templateVmid)?.config === config) entries.delete(templateVmid);
        },
        () => {
          if (entries.get(templateVmid)?.config === config) entries.delete(templateVmid);
        },
      );
      return config;
    },
    forget(templateVmid) {
      entries.delete(templateVmid);
    },
  };
}
