/**
 * The sandbox launcher runs as an unprivileged host uid, so every directory above a sandbox's own
 * directory must let that uid pass through (search permission). A data directory made 0700 or 0750
 * would make every start fail with a bare "Permission denied" from bwrap: say what to change instead.
 */
import { realpathSync, statSync } from "node:fs";
import path from "node:path";
import { BackendError } from "../../backend-errors.js";

export function checkSandboxDirReachable(sandboxDir: string, hostUid: number, hostGid: number): void {
  const blocked: string[] = [];
  let dir = path.resolve(sandboxDir);
  for (;;) {
    const st = statSync(dir);
    const canSearch =
      st.uid === hostUid
        ? (st.mode & 0o100) !== 0
        : st.gid === hostGid
          ? (st.mode & 0o010) !== 0
          : (st.mode & 0o001) !== 0;
    if (!canSearch) blocked.push(`${dir} (mode ${(st.mode & 0o777).toString(8).padStart(4, "0")})`);
    const parent = path.dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  if (blocked.length > 0) {
    throw new BackendError(
      "unavailable",
      `local sandboxes run as uid ${hostUid}, which cannot reach ${sandboxDir}: ${blocked.join(", ")} lack search permission`,
      {
        hint: `run chmod o+x on ${blocked.map((b) => b.split(" ")[0]).join(" ")} (traverse only, no listing), or set local_sandbox_dir to a reachable directory`,
      },
    );
  }
}

/**
 * A job's local repository, shown read-only at the same path. Refused when it is not an existing
 * directory, or when it lies in (or contains) a path the sandbox must not see: the runner's data,
 * /etc/agentlab, other sandboxes. The real path is checked, so a symlink cannot smuggle one in.
 */
export function readOnlyPathMounts(
  paths: readonly string[],
  forbidden: readonly string[],
): Array<{ hostPath: string; sandboxPath: string; readOnly: boolean }> {
  return paths.map((requested) => {
    const refuse = (why: string, hint: string) =>
      new BackendError("invalid_argument", `cannot show ${requested} in the sandbox: ${why}`, { hint });
    if (!path.isAbsolute(requested) || requested.split("/").includes("..")) {
      throw refuse("it is not an absolute path", "give the repository as an absolute path");
    }
    let real: string;
    try {
      real = realpathSync(requested);
    } catch {
      throw refuse("it does not exist", "check the path");
    }
    if (!statSync(real).isDirectory()) throw refuse("it is not a directory", "give the repository's directory");
    const inside = (child: string, parent: string) => child === parent || child.startsWith(`${parent}/`);
    for (const hidden of forbidden.map((p) => path.resolve(p))) {
      if (inside(real, hidden) || inside(hidden, real)) {
        throw refuse(
          `it overlaps ${hidden}, which sandboxes must not see`,
          "keep repositories outside AgentLab's own directories",
        );
      }
    }
    return { hostPath: real, sandboxPath: requested, readOnly: true };
  });
}
