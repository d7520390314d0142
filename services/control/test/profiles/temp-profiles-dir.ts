import { mkdtemp, rm, unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A real profiles_dir in the OS temp dir; `remove()` in afterEach. */
export interface TempProfilesDir {
  path: string;
  write(name: string, text: string): Promise<string>;
  delete(name: string): Promise<void>;
  remove(): Promise<void>;
}

export async function createTempProfilesDir(): Promise<TempProfilesDir> {
  const path = await mkdtemp(join(tmpdir(), "agentlab-profiles-"));
  return {
    path,
    async write(name, text) {
      const file = join(path, name);
      await writeFile(file, text);
      return file;
    },
    delete: (name) => unlink(join(path, name)),
    remove: () => rm(path, { recursive: true, force: true }),
  };
}

/** Trims the common indentation of a template literal so YAML fixtures can be indented in tests. */
export function yaml(strings: TemplateStringsArray, ...values: unknown[]): string {
  const text = strings.reduce(
    (out, part, index) => out + part + (index < values.length ? String(values[index]) : ""),
    "",
  );
  const lines = text.replace(/^\n/, "").split("\n");
  const indent = Math.min(...lines.filter((line) => line.trim() !== "").map((line) => line.match(/^ */)![0].length));
  return lines.map((line) => line.slice(indent)).join("\n");
}
