import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import type { SimState } from "./sim-state.js";

/**
 * Cloud-init snippets (reference/proxmox.md §3 "Cloud-init snippets"): `<storage>:snippets/<file>`.
 * The API cannot upload them, so the shell backend writes files into the host directory
 * (`snippetsDir`, standing in for /var/lib/vz/snippets); tests may also seed them in memory.
 */
export interface SnippetStore {
  /** Contents of a snippet volume, or undefined when PVE would say `can't find file`. */
  read(volid: string): string | undefined;
  write(volid: string, content: string): void;
  readonly dir: string | undefined;
}

const SNIPPET_VOLID = /^([a-zA-Z0-9][a-zA-Z0-9_.-]*):snippets\/(.+)$/;

export function parseSnippetVolid(volid: string): { storage: string; file: string } | undefined {
  const m = SNIPPET_VOLID.exec(volid);
  return m ? { storage: m[1]!, file: m[2]! } : undefined;
}

export function createSnippetStore(state: SimState, dir: string | undefined): SnippetStore {
  const fileFor = (volid: string): string | undefined => {
    const parsed = parseSnippetVolid(volid);
    if (!dir || !parsed || parsed.storage !== "local") return undefined;
    // Only the file name: a snippet volid never reaches outside the snippets directory.
    return join(dir, basename(parsed.file));
  };
  return {
    dir,
    read(volid) {
      const parsed = parseSnippetVolid(volid);
      if (!parsed) return undefined;
      const storage = state.storages.get(parsed.storage);
      // A storage without the snippets content type has no snippets directory to read (§3).
      if (!storage?.content.has("snippets")) return undefined;
      const inMemory = state.snippets.get(volid);
      if (inMemory !== undefined) return inMemory;
      const file = fileFor(volid);
      return file && existsSync(file) ? readFileSync(file, "utf8") : undefined;
    },
    write(volid, content) {
      state.snippets.set(volid, content);
      const file = fileFor(volid);
      if (file && dir) {
        mkdirSync(dir, { recursive: true });
        writeFileSync(file, content);
      }
    },
  };
}
