import { chmod, mkdir, rename, writeFile } from "node:fs/promises";
import { dirname } from "node:path";

/** Creates a directory only its owner can enter (secrets, payload cache); tightens an existing one. */
export async function ensurePrivateDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  // mkdir leaves an existing directory's mode alone, and the umask may have widened a new one.
  await chmod(dir, 0o700);
}

/**
 * Writes a file readable only by its owner, atomically: a crash never leaves half a payload behind,
 * and the content never exists under a wider mode, since the mode is set when the file is created.
 */
export async function writePrivateFile(path: string, content: string | Uint8Array, mode = 0o600): Promise<void> {
  await ensurePrivateDir(dirname(path));
  const temp = `${path}.${process.pid}.tmp`;
  await writeFile(temp, content, { mode, flag: "w" });
  await chmod(temp, mode);
  await rename(temp, path);
}
