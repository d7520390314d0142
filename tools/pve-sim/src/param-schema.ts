import { paramError } from "./pve-error.js";
import {
  paramConfigId,
  paramDnsName,
  paramEnum,
  paramMaximum,
  paramMaxLength,
  paramMinimum,
  paramMissing,
  paramTypeCheck,
  paramUnknown,
} from "./pve-messages.js";

/**
 * PVE's JSON-schema parameter check, reduced to what the runner can trip over
 * (reference/proxmox.md §1.1): unknown keys, `0|1` booleans in form bodies, integers, VMID range,
 * DNS names, snapshot/config IDs, enumerations. Failures collect into one 400 `errors` map.
 */
export type ParamType = "integer" | "number" | "boolean" | "string";

export interface ParamSpec {
  type: ParamType;
  optional?: boolean;
  format?: "vmid" | "dns-name" | "configid";
  minimum?: number;
  maximum?: number;
  maxLength?: number;
  /** Allowed string values (PVE's `enum`, e.g. a firewall policy). */
  enum?: readonly string[];
}

export interface ParamSchema {
  properties: Record<string, ParamSpec>;
  /** Key patterns accepted beyond `properties` (e.g. `net\d+` for config updates). */
  patternProperties?: Array<{ pattern: RegExp; spec: ParamSpec }>;
}

export type ParamValue = string | number | boolean;
export type ParamValues = Record<string, ParamValue>;

const DNS_NAME = /^(([a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?)\.)*([a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?)$/;
const CONFIG_ID = /^[a-zA-Z][a-zA-Z0-9_-]+$/;

export const vmidSpec: ParamSpec = { type: "integer", format: "vmid" };
export const optionalBoolean: ParamSpec = { type: "boolean", optional: true };
export const optionalString: ParamSpec = { type: "string", optional: true };
export const optionalInteger: ParamSpec = { type: "integer", optional: true };

function checkValue(spec: ParamSpec, raw: unknown, strictForm: boolean): { value?: ParamValue; error?: string } {
  const text = typeof raw === "string" ? raw : String(raw);
  switch (spec.type) {
    case "boolean": {
      if (typeof raw === "boolean") return strictForm ? { error: paramTypeCheck("boolean", text) } : { value: raw };
      if (text === "1" || raw === 1) return { value: true };
      if (text === "0" || raw === 0) return { value: false };
      return { error: paramTypeCheck("boolean", text) };
    }
    case "integer":
    case "number": {
      const ok = spec.type === "integer" ? /^-?\d+$/.test(text) : /^-?(\d+\.?\d*|\.\d+)$/.test(text);
      if (!ok) return { error: paramTypeCheck(spec.type, text) };
      const value = Number(text);
      const min = spec.format === "vmid" ? 100 : spec.minimum;
      const max = spec.format === "vmid" ? 999_999_999 : spec.maximum;
      if (min !== undefined && value < min) return { error: paramMinimum(min) };
      if (max !== undefined && value > max) return { error: paramMaximum(max) };
      return { value };
    }
    case "string": {
      if (spec.maxLength !== undefined && text.length > spec.maxLength)
        return { error: paramMaxLength(spec.maxLength) };
      if (spec.format === "dns-name" && !DNS_NAME.test(text)) return { error: paramDnsName };
      if (spec.format === "configid" && !CONFIG_ID.test(text)) return { error: paramConfigId(text) };
      if (spec.enum && !spec.enum.includes(text)) return { error: paramEnum(text, spec.enum) };
      return { value: text };
    }
  }
}

/**
 * Checks and coerces `raw` against `schema`. `strictForm` (form-encoded bodies and query strings)
 * rejects JSON-style `true`/`false` booleans as PVE does.
 */
export function verifyParams(schema: ParamSchema, raw: Record<string, unknown>, strictForm: boolean): ParamValues {
  const errors: Record<string, string> = {};
  const out: ParamValues = {};
  for (const [key, value] of Object.entries(raw)) {
    const spec = schema.properties[key] ?? schema.patternProperties?.find((p) => p.pattern.test(key))?.spec;
    if (!spec) {
      errors[key] = paramUnknown;
      continue;
    }
    if (value === null || value === undefined) continue;
    const checked = checkValue(spec, value, strictForm);
    if (checked.error) errors[key] = checked.error;
    else out[key] = checked.value!;
  }
  for (const [key, spec] of Object.entries(schema.properties)) {
    if (!spec.optional && !(key in out) && !(key in errors)) errors[key] = paramMissing;
  }
  if (Object.keys(errors).length > 0) throw paramError(errors);
  return out;
}

/** Config keys PUT/POST …/config accepts (a subset of qemu-server's schema; all others → 400). */
const CONFIG_STRING_KEYS = [
  "affinity",
  "agent",
  "bios",
  "boot",
  "cicustom",
  "cipassword",
  "citype",
  "ciuser",
  "cpu",
  "description",
  "hotplug",
  "lock",
  "machine",
  "memory",
  "meta",
  "nameserver",
  "ostype",
  "scsihw",
  "searchdomain",
  "smbios1",
  "sshkeys",
  "startup",
  "tags",
  "vga",
  "vmgenid",
];

export const CONFIG_KEY_SPECS: Record<string, ParamSpec> = {
  ...Object.fromEntries(CONFIG_STRING_KEYS.map((k) => [k, optionalString])),
  name: { type: "string", optional: true, format: "dns-name" },
  cores: { type: "integer", optional: true, minimum: 1 },
  sockets: { type: "integer", optional: true, minimum: 1 },
  vcpus: { type: "integer", optional: true, minimum: 1 },
  balloon: { type: "integer", optional: true, minimum: 0 },
  cpulimit: { type: "number", optional: true, minimum: 0, maximum: 128 },
  cpuunits: { type: "integer", optional: true, minimum: 1, maximum: 262144 },
  onboot: optionalBoolean,
  protection: optionalBoolean,
  template: optionalBoolean,
  numa: optionalBoolean,
  kvm: optionalBoolean,
  acpi: optionalBoolean,
  tablet: optionalBoolean,
  description: { type: "string", optional: true, maxLength: 8192 },
};

export const CONFIG_KEY_PATTERNS: Array<{ pattern: RegExp; spec: ParamSpec }> = [
  {
    pattern: /^(net|ipconfig|scsi|sata|ide|virtio|serial|usb|hostpci|unused|efidisk|tpmstate)\d+$/,
    spec: optionalString,
  },
];

/** Config keys in the order-independent form PUT config accepts (plus its control params). */
export function configUpdateSchema(extra: Record<string, ParamSpec>): ParamSchema {
  return {
    properties: {
      ...CONFIG_KEY_SPECS,
      delete: optionalString,
      digest: { type: "string", optional: true, maxLength: 64 },
      revert: optionalString,
      skiplock: optionalBoolean,
      ...extra,
    },
    patternProperties: CONFIG_KEY_PATTERNS,
  };
}
