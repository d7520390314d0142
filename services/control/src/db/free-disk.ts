import { statfsSync } from "node:fs";

/** Bytes available to an unprivileged writer in `dir`'s filesystem; the default free-disk probe. */
export function freeBytesInDirectory(dir: string): number {
  const stats = statfsSync(dir);
  return Number(stats.bavail) * Number(stats.bsize);
}
