/**
 * The sandbox launcher runs as an unprivileged host uid, so every directory above a sandbox's own
 * directory must let that uid pass through (search permission). A data directory made 0700 or 0750
 * would make every start fail with a bare "Permission denied" from bwrap: say what to change instead.
 */
import { statSync } from "node:fs";
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
