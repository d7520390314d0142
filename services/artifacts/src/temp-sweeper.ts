import { promises as fsp } from "node:fs";
import { join, relative } from "node:path";
import { TEMP_FILE_PATTERN } from "./artifact-store.js";

/**
 * Removes `.upload-*.tmp` files anywhere under artifact_dir. Run at startup, before serving: a temp
 * file then can only be left over from a process that was killed mid-upload, and its bytes were never
 * acknowledged to anyone. Symlinks are neither followed nor removed.
 * Returns the removed files, relative to the root, for the log.
 */
export async function sweepTempFiles(root: string): Promise<string[]> {
  const removed: string[] = [];
  const pending = [root];
  while (pending.length > 0) {
    const dir = pending.pop() as string;
    let entries: import("node:fs").Dirent[];
    try {
      entries = await fsp.readdir(dir, { withFileTypes: true });
    } catch (err) {
      // A folder removed concurrently (retention) is simply not there to sweep.
      if ((err as NodeJS.ErrnoException).code === "ENOENT") continue;
      throw err;
    }
    for (const entry of entries) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) pending.push(path);
      else if (entry.isFile() && TEMP_FILE_PATTERN.test(entry.name)) {
        await fsp.unlink(path).catch((err: NodeJS.ErrnoException) => {
          if (err.code !== "ENOENT") throw err;
        });
        removed.push(relative(root, path));
      }
    }
  }
  return removed;
}
