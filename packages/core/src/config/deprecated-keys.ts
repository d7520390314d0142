import type { ConfigKey } from "./config-schema.js";

/** A key that still works but has a replacement: its value is converted and a warning is printed. */
export interface DeprecatedKey {
  key: string;
  replacement: ConfigKey;
  /** The replacement's value for the old value, or an error message when it cannot be converted. */
  convert(value: unknown): { value: unknown } | { error: string };
  /** How the replacement is written, for the warning: `proxmox_api_url: https://H:8006`. */
  example(value: unknown): string;
}

export const DEPRECATED_KEYS: readonly DeprecatedKey[] = [
  {
    key: "proxmox_host",
    replacement: "proxmox_api_url",
    convert(value) {
      if (typeof value !== "string" || !/^[A-Za-z0-9.-]+$|^\[[0-9a-fA-F:]+\]$/.test(value)) {
        return { error: `must be a host name or address, got ${JSON.stringify(value)}` };
      }
      return { value: `https://${value}:8006` };
    },
    example: (value) => `proxmox_api_url: https://${String(value)}:8006`,
  },
];

/**
 * Keys older AgentLab releases read that no longer do anything here; they warn with the reason
 * instead of a spelling suggestion.
 */
export const RETIRED_KEYS: Readonly<Record<string, string>> = {
  log_dir: "services log to stdout (journald); remove it",
  secrets_bundle: "each profile names its secrets bundle; remove it",
  secrets_age_key_path: "secrets bundles are plain YAML files in secrets_dir (mode 0600); remove it",
  secrets_sops_path: "secrets bundles are plain YAML files in secrets_dir (mode 0600); remove it",
  proxmox_api_shell_fallback: "the api backend never shells out; remove it",
  idle_stop_enabled: "idle stop is not implemented in this release; remove it",
  idle_stop_interval: "idle stop is not implemented in this release; remove it",
  idle_stop_minutes_default: "idle stop is not implemented in this release; remove it",
  idle_stop_cpu_threshold: "idle stop is not implemented in this release; remove it",
};
