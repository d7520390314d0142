import { chmodSync, chownSync, lstatSync, readFileSync, unlinkSync } from "node:fs";
import { connect } from "node:net";

/** sun_path holds 108 bytes including the terminating NUL. */
export const MAX_UNIX_SOCKET_PATH_BYTES = 107;

export function checkUnixSocketPathLength(path: string): void {
  const bytes = Buffer.byteLength(path);
  if (bytes > MAX_UNIX_SOCKET_PATH_BYTES) {
    throw new Error(
      `Unix socket path ${path} is ${bytes} bytes, longer than the ${MAX_UNIX_SOCKET_PATH_BYTES} the kernel allows; ` +
        "choose a shorter run_dir or socket path",
    );
  }
}

/** Whether a server answers on the socket file (connect succeeds). */
export function isSocketLive(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = connect(path);
    probe.once("connect", () => {
      probe.destroy();
      resolve(true);
    });
    probe.once("error", () => resolve(false));
  });
}

/**
 * Removes a socket file left behind by a process that died, so listen() does not fail with
 * EADDRINUSE. Refuses to remove a socket another server still answers on, and anything that is
 * not a socket.
 */
export async function removeStaleSocket(path: string): Promise<void> {
  let stats: ReturnType<typeof lstatSync>;
  try {
    stats = lstatSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
    throw err;
  }
  if (!stats.isSocket()) {
    throw new Error(
      `${path} exists and is not a Unix socket; refusing to replace it. Remove it or choose another path`,
    );
  }
  if (await isSocketLive(path)) {
    throw new Error(
      `another server is listening on ${path}; stop it first (e.g. systemctl stop the service) or choose another path`,
    );
  }
  unlinkSync(path);
}

/** The numeric id of a group from a group(5) file, or undefined when the group does not exist. */
export function lookupGroupId(name: string, groupFile = "/etc/group"): number | undefined {
  let text: string;
  try {
    text = readFileSync(groupFile, "utf8");
  } catch {
    return undefined;
  }
  for (const line of text.split("\n")) {
    const [groupName, , gid] = line.split(":");
    if (groupName === name && gid !== undefined && /^\d+$/.test(gid)) return Number(gid);
  }
  return undefined;
}

/**
 * Sets the socket's mode and group: access to a Unix socket is exactly its file permissions.
 * A missing group is reported (the socket stays with the process's group), not fatal.
 */
export function applySocketOwnership(
  path: string,
  options: { mode: number; group?: string; groupFile?: string },
  warn: (message: string) => void,
): void {
  chmodSync(path, options.mode);
  if (options.group === undefined) return;
  const gid = lookupGroupId(options.group, options.groupFile);
  if (gid === undefined) {
    warn(
      `group ${options.group} does not exist; ${path} keeps the process's group. Create it with: groupadd ${options.group}`,
    );
    return;
  }
  chownSync(path, -1, gid);
}
