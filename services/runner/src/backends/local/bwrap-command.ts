import type { LauncherCommand, SandboxLaunchSpec } from "./sandbox-launch-spec.js";
import type { MountOp } from "./sandbox-mount-plan.js";

/**
 * bubblewrap is spawned as the unprivileged host uid, so it builds the sandbox inside a user namespace
 * it owns: sandboxUid maps to hostUid, nothing maps to host root, and even bwrap's own setup never holds
 * a capability over host files. It sets no_new_privs itself; `--cap-drop ALL` empties every set.
 */
export function bwrapCommand(bwrapPath: string, spec: SandboxLaunchSpec): LauncherCommand {
  const args = [
    "--unshare-user",
    "--uid",
    String(spec.sandboxUid),
    "--gid",
    String(spec.sandboxGid),
    "--unshare-pid",
    "--unshare-ipc",
    "--unshare-uts",
    "--unshare-cgroup-try",
    "--hostname",
    spec.hostname,
    // A nested user namespace could otherwise be used to build mounts the sandbox was denied.
    "--disable-userns",
    "--cap-drop",
    "ALL",
    // Not --die-with-parent: a sandbox outlives the runner process and is re-adopted by the next one.
  ];
  if (spec.network === "none") args.push("--unshare-net");
  for (const op of spec.plan) args.push(...bwrapMountArgs(op));
  args.push("--chdir", "/work", "--", ...spec.command);
  return { file: bwrapPath, args, uid: spec.hostUid, gid: spec.hostGid };
}

function bwrapMountArgs(op: MountOp): string[] {
  switch (op.kind) {
    case "tmpfs":
      return ["--tmpfs", op.dest];
    case "dir":
      return ["--dir", op.dest];
    case "symlink":
      return ["--symlink", op.target, op.dest];
    case "bind":
      return [op.readOnly ? "--ro-bind" : "--bind", op.source, op.dest];
    case "proc":
      return ["--proc", op.dest];
    case "dev":
      return ["--dev", op.dest];
    case "remount-ro":
      return ["--remount-ro", op.dest];
  }
}
