import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * A private copy of dist/fake-cli.mjs for one simulator. The shared checkout's bundle is rewritten
 * by every `npm run build` (and vitest's global setup) — a fake `qm` started mid-write would run a
 * truncated script and exit 0 silently. The copy is taken once, checked complete (esbuild ends the
 * file with its source-map comment), and removed on close.
 */
export interface FakeCliSnapshot {
  /** Path of the copy, or undefined when no bundle was built (the wrappers then use dist/). */
  path: string | undefined;
  dispose(): void;
}

const COMPLETE_TRAILER = /\/\/# sourceMappingURL=fake-cli\.mjs\.map\s*$/;

export async function snapshotFakeCli(bundle: string, attempts = 50): Promise<FakeCliSnapshot> {
  if (!existsSync(bundle)) return { path: undefined, dispose: () => {} };
  for (let i = 0; i < attempts; i++) {
    const text = readFileSync(bundle, "utf8");
    if (COMPLETE_TRAILER.test(text)) {
      const dir = mkdtempSync(join(tmpdir(), "pve-sim-cli-"));
      const path = join(dir, "fake-cli.mjs");
      writeFileSync(path, text);
      return { path, dispose: () => rmSync(dir, { recursive: true, force: true }) };
    }
    // A build is writing the file right now; it finishes within milliseconds.
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`pve-sim: ${bundle} stayed incomplete; run \`npm run build\` at the repository root and retry`);
}
