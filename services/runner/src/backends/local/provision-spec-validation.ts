import path from "node:path";
import type { ProvisionSpec } from "../../backend.js";
import { BackendError } from "../../backend-errors.js";

const DNS_NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i;

/** Refuses bad input before anything is created on disk. */
export function validateProvisionSpec(spec: ProvisionSpec): void {
  const fail = (message: string, hint: string) => {
    throw new BackendError("invalid_argument", message, { vmid: spec.vmid, hint });
  };
  if (!Number.isInteger(spec.vmid) || spec.vmid < 1 || spec.vmid > 0xffffffff) {
    fail(`vmid ${spec.vmid} is not a positive 32-bit integer`, "control allocates VMIDs from the runner's range");
  }
  if (!DNS_NAME.test(spec.name) || /^\d+$/.test(spec.name)) {
    fail(`sandbox name ${JSON.stringify(spec.name)} is not a DNS label`, "use letters, digits and '-', not all digits");
  }
  if (spec.network.localMode !== undefined && spec.network.localMode !== "none" && spec.network.localMode !== "host") {
    fail(`network.localMode ${JSON.stringify(spec.network.localMode)} is not supported`, "use 'none' or 'host'");
  }
  if (
    spec.guestCommand !== undefined &&
    (spec.guestCommand.length === 0 || spec.guestCommand.some((a) => typeof a !== "string"))
  ) {
    fail("guestCommand must be a non-empty list of strings", "omit it for a bare sandbox");
  }
  for (const mount of spec.mounts ?? []) {
    if (!path.isAbsolute(mount.hostPath) || !path.isAbsolute(mount.sandboxPath)) {
      fail(`mount ${mount.hostPath} -> ${mount.sandboxPath} must use absolute paths`, "give both paths absolute");
    }
    if (path.resolve(mount.sandboxPath) === "/" || mount.sandboxPath.split("/").includes("..")) {
      fail(`mount target ${mount.sandboxPath} is not allowed`, "mount sockets under /run, /tmp or /work");
    }
  }
  for (const [key, value] of [
    ["cores", spec.cores],
    ["memoryMb", spec.memoryMb],
  ] as const) {
    if (value !== undefined && !(value > 0)) fail(`${key} ${value} must be positive`, `omit ${key} for no limit`);
  }
}
