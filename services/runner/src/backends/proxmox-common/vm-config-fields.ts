import type { PveConfig } from "./pve-driver.js";

/**
 * Reading and writing the config values the lifecycle cares about (reference/proxmox.md §1.2, §1.5):
 * net0's MAC, tags (normalised by Proxmox: lower-case, sorted, `;`-joined — compare sets), our
 * description marker, the template flag, the agent flag and the cloud-init drive.
 */

export function configString(config: PveConfig, key: string): string | undefined {
  const value = config[key];
  return value === undefined ? undefined : String(value);
}

/** `virtio=BC:24:11:AA:BB:CC,bridge=vmbr0,firewall=1` → model and MAC. */
export function parseNet(net: string | undefined): { model?: string; mac?: string; options: Map<string, string> } {
  const options = new Map<string, string>();
  let model: string | undefined;
  let mac: string | undefined;
  for (const part of (net ?? "").split(",")) {
    const [key, value] = part.split("=", 2);
    if (!key) continue;
    if (value !== undefined && /^([0-9A-Fa-f]{2}:){5}[0-9A-Fa-f]{2}$/.test(value) && model === undefined) {
      model = key;
      mac = value;
    } else if (key === "macaddr" && value) {
      mac = value;
    } else if (value !== undefined) {
      options.set(key, value);
    } else if (model === undefined) {
      model = key;
    }
  }
  return { model, mac, options };
}

/**
 * net0 for a sandbox: the clone's MAC (omitting it makes PVE generate a new one, §1.5) and VLAN tag
 * kept, model and bridge from the profile. The firewall flag: true sets it, false clears it,
 * undefined keeps the template's.
 */
export function buildNet0(
  current: string | undefined,
  spec: { model?: string; bridge?: string; firewall?: boolean },
): string {
  const parsed = parseNet(current);
  const model = spec.model ?? parsed.model ?? "virtio";
  const bridge = spec.bridge ?? parsed.options.get("bridge") ?? "vmbr0";
  const parts = [parsed.mac ? `${model}=${parsed.mac}` : model, `bridge=${bridge}`];
  const tag = parsed.options.get("tag");
  if (tag) parts.push(`tag=${tag}`);
  if (spec.firewall ?? parsed.options.get("firewall") === "1") parts.push("firewall=1");
  return parts.join(",");
}

export function parseTags(tags: string | undefined): string[] {
  return (tags ?? "")
    .split(/[;,\s]+/)
    .map((t) => t.trim().toLowerCase())
    .filter((t) => t.length > 0);
}

export function withTag(tags: string | undefined, tag: string): string {
  const set = new Set(parseTags(tags));
  set.add(tag.toLowerCase());
  return [...set].sort().join(";");
}

/**
 * Our marker in the VM description: `[agentlab owner=<tag> request=<id>]`, one line, so it also
 * survives the shell backend's "no control characters in argv" rule. Written at clone time, it lets a
 * retried provision (even after a runner restart) recognise the VM it already cloned.
 */
export interface DescriptionMarker {
  owner: string;
  requestId: string;
}

const MARKER_PATTERN = /\[agentlab owner=([a-z0-9_][a-z0-9_+.-]*) request=([A-Za-z0-9._:-]+)\]/;

export function renderDescription(userText: string | undefined, marker: DescriptionMarker): string {
  const clean = (userText ?? "")
    .replace(/[\x00-\x1f\x7f]+/g, " ")
    .trim()
    .slice(0, 4000);
  const tag = `[agentlab owner=${marker.owner} request=${marker.requestId}]`;
  return clean ? `${clean} ${tag}` : tag;
}

export function parseDescriptionMarker(description: string | undefined): DescriptionMarker | undefined {
  const m = MARKER_PATTERN.exec(description ?? "");
  return m ? { owner: m[1]!, requestId: m[2]! } : undefined;
}

/** Request ids end up in the marker; keep them to a safe alphabet. */
export function isSafeRequestId(requestId: string): boolean {
  return /^[A-Za-z0-9._:-]{1,128}$/.test(requestId);
}

export function isTemplate(config: PveConfig): boolean {
  return String(config.template ?? "0") === "1";
}

/** `agent` is `1`, `enabled=1`, `1,fstrim_cloned_disks=1`… (§1.2). */
export function agentEnabled(config: PveConfig): boolean {
  const value = configString(config, "agent");
  if (!value) return false;
  for (const part of value.split(",")) {
    const [key, v] = part.split("=", 2);
    if (v === undefined) return key === "1";
    if (key === "enabled") return v === "1";
  }
  return false;
}

const DISK_KEY = /^(ide|sata|scsi|virtio)\d+$/;

export function cloudInitDrive(config: PveConfig): string | undefined {
  return Object.keys(config).find((k) => DISK_KEY.test(k) && String(config[k]).includes("cloudinit"));
}

/** The boot disk: first disk of `boot: order=…`, else the first non-cloud-init, non-cdrom disk. */
export function bootDisk(config: PveConfig): { key: string; sizeGb?: number } | undefined {
  const order = /order=([^,]+)/.exec(configString(config, "boot") ?? "")?.[1]?.split(";") ?? [];
  const isDisk = (k: string) => {
    const v = configString(config, k);
    return v !== undefined && DISK_KEY.test(k) && !v.includes("cloudinit") && !v.includes("media=cdrom");
  };
  const key = order.find(isDisk) ?? Object.keys(config).filter(isDisk).sort()[0];
  if (!key) return undefined;
  return { key, sizeGb: parseSizeGb(/size=([0-9.]+[KMGT]?)/.exec(configString(config, key) ?? "")?.[1]) };
}

export function parseSizeGb(size: string | undefined): number | undefined {
  const m = /^([0-9.]+)([KMGT]?)$/.exec(size ?? "");
  if (!m) return undefined;
  const n = Number.parseFloat(m[1]!);
  const factor = { "": 1 / 1024 ** 3, K: 1 / 1024 ** 2, M: 1 / 1024, G: 1, T: 1024 }[
    m[2] as "" | "K" | "M" | "G" | "T"
  ];
  return n * factor;
}

/** Storage id of the template's boot disk (`local-zfs:base-9000-disk-0` → `local-zfs`). */
export function diskStorage(config: PveConfig, key: string): string | undefined {
  return /^([^:,]+):/.exec(configString(config, key) ?? "")?.[1];
}
