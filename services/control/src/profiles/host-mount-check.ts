import type { KeyPath } from "./profile-diagnostic.js";

/**
 * Keys that would expose the host's filesystem inside a sandbox. No profile may carry one, at any
 * depth, whatever the backend: a sandbox runs an unattended agent, and a host mount is the shortest
 * way out of it (agentlab-reference.md §4.2, the provisioning-time check upstream; here it runs at
 * load time so a bad profile is never offered at all).
 */
const EXACT_HOST_MOUNT_KEYS = new Set([
  "host_mount",
  "host_mounts",
  "host_path",
  "host_paths",
  "bind_mount",
  "bind_mounts",
  "binds",
  "mounts",
  "mount_points",
  "mountpoints",
  "virtiofs",
  "virtio_fs",
]);

/** Case and `-`/`_` spelling do not matter: `hostPath`, `Host-Path` and `host_path` are all refused. */
export function isHostMountKey(key: string): boolean {
  const normalised = key.toLowerCase().replaceAll("-", "_");
  if (EXACT_HOST_MOUNT_KEYS.has(normalised)) return true;
  const hasHost = normalised.includes("host");
  const hasBind = normalised.includes("bind");
  if (hasHost && (normalised.includes("mount") || normalised.includes("path") || hasBind)) return true;
  return hasBind && normalised.includes("mount");
}

/** Every path, at any depth (through mappings and sequences), whose last key looks like a host mount. */
export function findHostMountKeys(value: unknown, path: KeyPath = []): KeyPath[] {
  const found: KeyPath[] = [];
  if (Array.isArray(value)) {
    value.forEach((item, index) => {
      found.push(...findHostMountKeys(item, [...path, index]));
    });
  } else if (isPlainMapping(value)) {
    for (const [key, child] of Object.entries(value)) {
      const childPath = [...path, key];
      if (isHostMountKey(key)) found.push(childPath);
      found.push(...findHostMountKeys(child, childPath));
    }
  }
  return found;
}

export function isPlainMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
