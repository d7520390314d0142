import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A fresh temp directory per test; `remove()` in afterEach. */
export function makeTempDir(prefix = "agentlab-db-"): { dir: string; dbPath: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, dbPath: join(dir, "agentlab.db"), remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A fixed clock that tests can move. */
export function makeFakeClock(start: string): {
  clock: () => Date;
  set: (iso: string) => void;
  advanceMs: (ms: number) => void;
} {
  let now = new Date(start);
  return {
    clock: () => new Date(now.getTime()),
    set: (iso) => {
      now = new Date(iso);
    },
    advanceMs: (ms) => {
      now = new Date(now.getTime() + ms);
    },
  };
}

/** Plenty of disk for every test that is not about disk space. */
export const ampleDisk = (): number => 1024 ** 4;
