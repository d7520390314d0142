import type { spawn as nodeSpawn } from "node:child_process";
import { accessSync, constants } from "node:fs";
import path from "node:path";
import { BackendError } from "../../backend-errors.js";
import type { IsolationMode, ResolvedIsolation } from "./local-backend-options.js";
import { runCommand } from "./run-command.js";

export interface IsolationChoice {
  isolation: ResolvedIsolation;
  /** Path of bwrap or unshare. */
  toolPath: string;
}

const SEARCH_DIRS = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"];

export function findExecutable(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? "").split(":").filter(Boolean), ...SEARCH_DIRS];
  for (const dir of dirs) {
    const candidate = path.join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {}
  }
  return undefined;
}

const USERNS_HINT =
  "enable user namespaces (sysctl -w kernel.unprivileged_userns_clone=1 on Debian/Ubuntu kernels, " +
  "sysctl -w user.max_user_namespaces=15000, and on Ubuntu 24.04+ kernel.apparmor_restrict_unprivileged_userns=0), " +
  "or run the runner on a host that allows them";

/**
 * Checks, by actually creating the namespaces once, that a launcher works on this host: a missing
 * binary or a kernel that refuses user namespaces is reported before any sandbox is started.
 */
export async function probeIsolation(
  spawn: typeof nodeSpawn,
  mode: IsolationMode,
  tools: { bwrapPath?: string; unsharePath?: string; hostUid: number; hostGid: number },
): Promise<IsolationChoice> {
  const problems: string[] = [];
  if (mode === "auto" || mode === "bwrap") {
    const bwrapPath = tools.bwrapPath ?? findExecutable("bwrap");
    if (!bwrapPath) {
      problems.push("bubblewrap (bwrap) is not installed");
    } else {
      const result = await runCommand(
        spawn,
        bwrapPath,
        [
          "--unshare-user",
          "--unshare-pid",
          "--unshare-net",
          "--ro-bind",
          "/",
          "/",
          "--proc",
          "/proc",
          "--",
          "/bin/true",
        ],
        { uid: tools.hostUid, gid: tools.hostGid },
      );
      if (result.code === 0) return { isolation: "bwrap", toolPath: bwrapPath };
      problems.push(
        `bwrap at ${bwrapPath} cannot create namespaces as uid ${tools.hostUid}: ${result.spawnError?.message ?? result.output}`,
      );
    }
  }
  if (mode === "auto" || mode === "unshare") {
    const unsharePath = tools.unsharePath ?? findExecutable("unshare");
    const missing = ["setpriv", "pivot_root", "mount", "umount"].filter((tool) => !findExecutable(tool));
    if (!unsharePath) {
      problems.push("unshare (util-linux) is not installed");
    } else if (process.getuid?.() !== 0) {
      problems.push("the unshare launcher mounts the sandbox root itself and needs the runner to run as root");
    } else if (missing.length > 0) {
      problems.push(`util-linux tools missing for the unshare launcher: ${missing.join(", ")}`);
    } else {
      const result = await runCommand(spawn, unsharePath, [
        "--user",
        "--mount",
        "--pid",
        "--fork",
        "--ipc",
        "--uts",
        "--net",
        "--",
        "/bin/true",
      ]);
      if (result.code === 0) return { isolation: "unshare", toolPath: unsharePath };
      problems.push(
        `unshare at ${unsharePath} cannot create namespaces: ${result.spawnError?.message ?? result.output}`,
      );
    }
  }
  throw new BackendError(
    "unavailable",
    `local backend cannot isolate sandboxes on this host (isolation: ${mode}): ${problems.join("; ")}`,
    { hint: `install bubblewrap or util-linux (unshare, setpriv, pivot_root) and ${USERNS_HINT}` },
  );
}
