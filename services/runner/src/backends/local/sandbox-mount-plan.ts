import { existsSync, lstatSync, readdirSync, readlinkSync } from "node:fs";
import path from "node:path";
import { SANDBOX_BOOTSTRAP_PATH, SANDBOX_HOME_DIR, SANDBOX_WORK_DIR } from "./sandbox-paths.js";

/**
 * The sandbox's filesystem as an ordered list of operations, independent of the tool that performs
 * them: bwrap-command.ts renders it as bubblewrap arguments, unshare-command.ts as a mount script.
 */
export type MountOp =
  | { kind: "tmpfs"; dest: string }
  | { kind: "dir"; dest: string }
  | { kind: "symlink"; target: string; dest: string }
  | { kind: "bind"; source: string; dest: string; readOnly: boolean }
  | { kind: "proc"; dest: string }
  | { kind: "dev"; dest: string }
  | { kind: "remount-ro"; dest: string };

export interface MountPlanInput {
  bootstrapFile: string;
  workDir: string;
  tmpDir: string;
  homeDir: string;
  hiddenPaths: string[];
  network: "none" | "host";
  mounts: Array<{ hostPath: string; sandboxPath: string; readOnly?: boolean }>;
  /** Injected for tests: lists a host directory as (name, symlink target or undefined). */
  listDir?: (dir: string) => Array<{ name: string; symlinkTarget?: string }>;
}

/** Top-level host entries the sandbox never gets: replaced by its own (or an empty) version. */
const REPLACED_TOP_LEVEL = new Set(["proc", "dev", "tmp", "work", "home", "root", "run", "etc"]);

function listHostDir(dir: string): Array<{ name: string; symlinkTarget?: string }> {
  return readdirSync(dir).map((name) => {
    const full = path.join(dir, name);
    return lstatSync(full).isSymbolicLink() ? { name, symlinkTarget: readlinkSync(full) } : { name };
  });
}

/**
 * The root is a fresh tmpfs with each host top-level entry bound read-only into it, rather than a
 * read-only bind of `/` itself: that way mount points the host lacks (`/work`, `/etc/agentlab`) can be
 * created inside the sandbox without ever writing the host, and hidden entries are simply left out.
 */
export function buildMountPlan(input: MountPlanInput): MountOp[] {
  const listDir = input.listDir ?? listHostDir;
  const hidden = new Set(input.hiddenPaths.map((p) => path.resolve(p)));
  const ops: MountOp[] = [{ kind: "tmpfs", dest: "/" }];

  for (const entry of listDir("/")) {
    if (REPLACED_TOP_LEVEL.has(entry.name)) continue;
    ops.push(mirrorEntry("/", entry, hidden));
  }

  // /etc is rebuilt the same way so that /etc/agentlab is the sandbox's own, whatever the host holds there.
  ops.push({ kind: "tmpfs", dest: "/etc" });
  for (const entry of listDir("/etc")) {
    ops.push(mirrorEntry("/etc", entry, hidden));
  }
  ops.push({ kind: "dir", dest: "/etc/agentlab" });
  ops.push({ kind: "bind", source: input.bootstrapFile, dest: SANDBOX_BOOTSTRAP_PATH, readOnly: true });

  ops.push({ kind: "dev", dest: "/dev" });
  ops.push({ kind: "proc", dest: "/proc" });
  ops.push({ kind: "dir", dest: "/root" });
  ops.push({ kind: "tmpfs", dest: "/run" });
  // With the host network the resolver stub (often a symlink target under /run) must stay reachable.
  if (input.network === "host" && existsSync("/run/systemd/resolve")) {
    ops.push({ kind: "bind", source: "/run/systemd/resolve", dest: "/run/systemd/resolve", readOnly: true });
  }
  ops.push({ kind: "bind", source: input.workDir, dest: SANDBOX_WORK_DIR, readOnly: false });
  ops.push({ kind: "bind", source: input.tmpDir, dest: "/tmp", readOnly: false });
  ops.push({ kind: "tmpfs", dest: "/home" });
  ops.push({ kind: "bind", source: input.homeDir, dest: SANDBOX_HOME_DIR, readOnly: false });

  for (const hiddenPath of hidden) {
    const cover = coverHiddenPath(hiddenPath);
    if (cover) ops.push(cover);
  }
  for (const mount of input.mounts) {
    ops.push({ kind: "bind", source: mount.hostPath, dest: mount.sandboxPath, readOnly: mount.readOnly ?? false });
  }

  ops.push({ kind: "remount-ro", dest: "/etc" });
  ops.push({ kind: "remount-ro", dest: "/" });
  return ops;
}

function mirrorEntry(dir: string, entry: { name: string; symlinkTarget?: string }, hidden: Set<string>): MountOp {
  const full = path.join(dir, entry.name);
  if (hidden.has(full)) return { kind: "dir", dest: full };
  if (entry.symlinkTarget !== undefined) return { kind: "symlink", target: entry.symlinkTarget, dest: full };
  return { kind: "bind", source: full, dest: full, readOnly: true };
}

/**
 * A hidden path is already covered when it lies in a replaced top-level directory or is a mirrored
 * entry left out above; deeper paths get a tmpfs (directories) or /dev/null (files) over them.
 */
function coverHiddenPath(hiddenPath: string): MountOp | undefined {
  const parts = hiddenPath.split("/").filter(Boolean);
  const top = parts[0];
  if (top === undefined) return undefined;
  if (REPLACED_TOP_LEVEL.has(top) && top !== "etc") return undefined;
  if (parts.length === 1 || (top === "etc" && parts.length === 2)) return undefined;
  let stat: ReturnType<typeof lstatSync>;
  try {
    stat = lstatSync(hiddenPath);
  } catch {
    return undefined;
  }
  // A symlink is resolved by the mount itself; hide its target by listing the target instead.
  if (stat.isSymbolicLink()) return undefined;
  if (stat.isDirectory()) return { kind: "tmpfs", dest: hiddenPath };
  return { kind: "bind", source: "/dev/null", dest: hiddenPath, readOnly: true };
}
