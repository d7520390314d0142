import { createHash } from "node:crypto";
import type { RandomSource } from "./seeded-random.js";
import { randomMac } from "./seeded-random.js";

/**
 * How a VM config is stored, rendered and typed (reference/proxmox.md §1.2, §1.5): the config
 * file lists keys sorted with the description as leading comment lines; its SHA-1 is `digest`;
 * integer/boolean keys come back as JSON numbers, everything else (including `memory`) as strings.
 */
export type VmConfig = Map<string, string>;

/** Keys whose schema type is integer, number or boolean → JSON numbers in GET config. */
const NUMERIC_KEYS = new Set([
  "acpi",
  "balloon",
  "cores",
  "cpulimit",
  "cpuunits",
  "freeze",
  "kvm",
  "localtime",
  "migrate_downtime",
  "migrate_speed",
  "numa",
  "onboot",
  "protection",
  "reboot",
  "shares",
  "sockets",
  "tablet",
  "template",
  "vcpus",
]);

export function isNumericConfigKey(key: string): boolean {
  return NUMERIC_KEYS.has(key);
}

/** The config file text (description as `#` lines, then `key: value` sorted). */
export function renderConfigFile(config: VmConfig): string {
  const lines: string[] = [];
  const description = config.get("description");
  if (description !== undefined) {
    for (const line of description.split("\n")) lines.push(`#${line}`);
  }
  for (const key of [...config.keys()].sort()) {
    if (key === "description") continue;
    lines.push(`${key}: ${config.get(key)}`);
  }
  return `${lines.join("\n")}\n`;
}

export function configDigest(config: VmConfig): string {
  return createHash("sha1").update(renderConfigFile(config)).digest("hex");
}

/** Config as GET …/config returns it: typed values plus `digest`. */
export function configToJson(config: VmConfig): Record<string, string | number> {
  const out: Record<string, string | number> = {};
  for (const key of [...config.keys()].sort()) {
    const value = config.get(key)!;
    out[key] = NUMERIC_KEYS.has(key) && value !== "" && !Number.isNaN(Number(value)) ? Number(value) : value;
  }
  out.digest = configDigest(config);
  return out;
}

/** Tags: lower-cased, de-duplicated, sorted, `;`-joined (reference §1.5 PUT config). */
export function normaliseTags(tags: string): string {
  const list = tags
    .split(/[;,\s]+/)
    .map((tag) => tag.trim().toLowerCase())
    .filter((tag) => tag.length > 0);
  return [...new Set(list)].sort().join(";");
}

const NIC_MODEL_MAC = /^([a-z0-9]+)(?:=([0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){5}))?(,|$)/;

/** The MAC of a `netN` value (`virtio=BC:24:11:..,bridge=vmbr0`), if it has one. */
export function macOfNet(net: string | undefined): string | undefined {
  if (!net) return undefined;
  return NIC_MODEL_MAC.exec(net)?.[2]?.toUpperCase();
}

/** Gives a `netN` value a MAC: a new one when `regenerate` or when it had none (§1.5 config). */
export function withMac(net: string, random: RandomSource, regenerate: boolean): string {
  const m = NIC_MODEL_MAC.exec(net);
  if (!m) return net;
  if (m[2] && !regenerate) return net;
  return `${m[1]}=${randomMac(random)}${net.slice(m[0].length - m[3]!.length)}`;
}

/** A disk value's volume ID (`local-zfs:base-9000-disk-0,size=32G` → `local-zfs:base-9000-disk-0`). */
export function volidOfDisk(value: string): string | undefined {
  const first = value.split(",")[0] ?? "";
  if (!first.includes(":") || first.startsWith("file=")) return undefined;
  return first;
}

export const DISK_KEY = /^(scsi|sata|ide|virtio|efidisk|tpmstate|unused)\d+$/;

export function isCloudInitDisk(value: string): boolean {
  return /cloudinit/.test(value.split(",")[0] ?? "");
}

/** Percent-escapes as `qm config` prints the description (§2). */
export function escapeDescription(text: string): string {
  let out = "";
  for (const ch of text) {
    const code = ch.codePointAt(0)!;
    if (ch === "%" || ch === ":" || code < 0x20 || code > 0x7e) {
      out += [...Buffer.from(ch, "utf8")].map((b) => `%${b.toString(16).toUpperCase().padStart(2, "0")}`).join("");
    } else {
      out += ch;
    }
  }
  return out;
}
