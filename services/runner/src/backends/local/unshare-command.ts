import type { LauncherCommand, SandboxLaunchSpec } from "./sandbox-launch-spec.js";
import type { MountOp } from "./sandbox-mount-plan.js";

/**
 * The util-linux fallback. `unshare` (as the runner, root) creates the mount, PID, IPC, UTS and
 * network namespaces; a shell script — pid 1 of the new PID namespace — assembles the new root on
 * `rootfsDir` with real root privileges (so it can traverse root-only parents of hidden paths),
 * pivots into it, and starts the guest in a fresh user namespace that maps sandboxUid to the
 * unprivileged hostUid, with every capability set emptied and no_new_privs. Mounts made by root in a
 * namespace owned by the host user namespace cannot be undone by the unprivileged guest.
 *
 * util-linux 2.38's `--map-users` needs newuidmap (shadow-utils), so the script writes uid_map and
 * gid_map itself from outside the new user namespace, as root in the parent namespace may.
 */
export function unshareCommand(unsharePath: string, spec: SandboxLaunchSpec): LauncherCommand {
  const args = ["--mount", "--pid", "--fork", "--ipc", "--uts", "--propagation", "private"];
  if (spec.network === "none") args.push("--net");
  args.push("--", "/bin/sh", "-c", unshareInitScript(unsharePath, spec), "agentlab-sandbox-init", ...spec.command);
  return { file: unsharePath, args };
}

export function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

export function unshareInitScript(unsharePath: string, spec: SandboxLaunchSpec): string {
  const q = shellQuote;
  const lines = [
    "set -eu",
    `R=${q(spec.rootfsDir)}`,
    // Creates the mount point for a bind of $1 at $2: a directory for a directory, an empty file otherwise.
    'mp() { if [ -d "$1" ]; then mkdir -p "$2"; else mkdir -p "$(dirname "$2")"; [ -e "$2" ] || : > "$2"; fi; }',
    // A recursive read-only bind: remounting only the top would leave the host's submounts writable.
    'ro_rbind() { mp "$1" "$2"; mount --rbind "$1" "$2"; mount -o remount,bind,ro "$2";' +
      ' while read -r _ _ _ _ m _; do case "$m" in "$2"/*) mount -o remount,bind,ro "$m";; esac; done < /proc/self/mountinfo; }',
    `printf %s ${q(spec.hostname)} > /proc/sys/kernel/hostname`,
  ];
  if (spec.network === "none") lines.push("ip link set lo up 2>/dev/null || true");
  for (const op of spec.plan) lines.push(mountOpScript(op));
  lines.push(
    'cd "$R"',
    // pivot_root . . stacks the old root over the new one; detaching it leaves only the new root.
    "pivot_root . .",
    "umount -l .",
    "cd /work",
    `${q(unsharePath)} --user --keep-caps -- /bin/sh -c ${q(guestStartScript(spec))} agentlab-guest "$@" &`,
    "H=$!",
    // Until the child has unshared its user namespace; `-ef` compares namespace inodes without forking.
    "while [ /proc/$H/ns/user -ef /proc/$$/ns/user ]; do :; done",
    `echo ${q(`${spec.sandboxUid} ${spec.hostUid} 1`)} > /proc/$H/uid_map`,
    `echo ${q(`${spec.sandboxGid} ${spec.hostGid} 1`)} > /proc/$H/gid_map`,
    "set +e",
    'wait "$H"',
    "exit $?",
  );
  return lines.join("\n");
}

/** Runs inside the new user namespace: waits for its uid map, then drops to the sandbox uid for good. */
function guestStartScript(spec: SandboxLaunchSpec): string {
  return [
    "until read -r m < /proc/self/uid_map; do :; done",
    // Like bwrap --disable-userns: a nested user namespace is how unprivileged code gets mount powers.
    "echo 0 > /proc/sys/user/max_user_namespaces || exit 1",
    `exec setpriv --reuid=${spec.sandboxUid} --regid=${spec.sandboxGid} --clear-groups` +
      ' --bounding-set=-all --inh-caps=-all --ambient-caps=-all --no-new-privs -- "$@"',
  ].join("\n");
}

function mountOpScript(op: MountOp): string {
  const q = shellQuote;
  const dest = op.dest === "/" ? '"$R"' : `"$R"${q(op.dest)}`;
  switch (op.kind) {
    case "tmpfs":
      return `mkdir -p ${dest} && mount -t tmpfs -o mode=0755,nosuid,nodev agentlab ${dest}`;
    case "dir":
      return `mkdir -p ${dest}`;
    case "symlink":
      return `ln -s ${q(op.target)} ${dest}`;
    case "bind":
      return op.readOnly
        ? `ro_rbind ${q(op.source)} ${dest}`
        : `mp ${q(op.source)} ${dest} && mount --bind ${q(op.source)} ${dest}`;
    case "proc":
      return `mkdir -p ${dest} && mount -t proc -o nosuid,nodev,noexec proc ${dest}`;
    case "dev":
      return [
        `mkdir -p ${dest} && mount -t tmpfs -o mode=0755,nosuid agentlab-dev ${dest}`,
        `for n in null zero full random urandom tty; do : > ${dest}/$n; mount --bind /dev/$n ${dest}/$n; done`,
        `ln -s /proc/self/fd ${dest}/fd && ln -s /proc/self/fd/0 ${dest}/stdin`,
        `ln -s /proc/self/fd/1 ${dest}/stdout && ln -s /proc/self/fd/2 ${dest}/stderr`,
        `mkdir ${dest}/shm && mount -t tmpfs -o mode=1777,nosuid,nodev agentlab-shm ${dest}/shm`,
      ].join("\n");
    case "remount-ro":
      return `mount -o remount,bind,ro ${dest}`;
  }
}
