import { readFile } from "node:fs/promises";
import { GuestError } from "./guest-error.js";

/** The bootstrap file: how to reach control and the one-time token to present. */
export interface BootstrapFile {
  token: string;
  vmid: number;
  /** Connect base URL of control's guest listener: http://host:port or unix:///path. */
  controller: string;
  /** Overrides the payload's upload endpoint (local sandboxes mount the artifacts socket elsewhere). */
  artifacts?: string;
}

function requireString(value: unknown, key: string, path: string): string {
  if (typeof value !== "string" || value.trim() === "") {
    throw new GuestError(`bootstrap file ${path}: "${key}" is missing or not a string`, "re-provision the sandbox");
  }
  return value.trim();
}

/** Reads and validates the bootstrap file. */
export async function readBootstrapFile(path: string): Promise<BootstrapFile> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    throw new GuestError(
      `cannot read bootstrap file ${path}: ${(err as NodeJS.ErrnoException).code ?? err}`,
      "check that cloud-init wrote it, or point AGENTLAB_BOOTSTRAP_FILE at it",
      { cause: err },
    );
  }
  let data: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new Error("not an object");
    data = parsed as Record<string, unknown>;
  } catch (err) {
    throw new GuestError(`bootstrap file ${path} is not a JSON object`, "re-provision the sandbox", { cause: err });
  }
  const vmid = typeof data.vmid === "string" ? Number(data.vmid) : data.vmid;
  if (typeof vmid !== "number" || !Number.isInteger(vmid) || vmid <= 0 || vmid > 2 ** 31 - 1) {
    throw new GuestError(`bootstrap file ${path}: "vmid" must be a positive integer`, "re-provision the sandbox");
  }
  const file: BootstrapFile = {
    token: requireString(data.token, "token", path),
    vmid,
    controller: requireString(data.controller, "controller", path),
  };
  if (data.artifacts !== undefined && data.artifacts !== null && data.artifacts !== "") {
    file.artifacts = requireString(data.artifacts, "artifacts", path);
  }
  return file;
}
