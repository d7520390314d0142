import { spawnSync } from "node:child_process";

/**
 * Whether an executable is on PATH (or, for an absolute path, exists and runs). Tests that need a
 * system tool skip with `it.skipIf(!hasTool(...))` so a missing package shows up as a named skip,
 * never as a confusing failure; CI installs the packages so nothing is skipped there.
 */
export function hasTool(name: string): boolean {
  const found = spawnSync("sh", ["-c", 'command -v "$1"', "sh", name], { stdio: "ignore" });
  return found.status === 0;
}

/** Root is needed for network namespaces, `dpkg --root` ownership and nft. */
export function isRoot(): boolean {
  return typeof process.getuid === "function" && process.getuid() === 0;
}
