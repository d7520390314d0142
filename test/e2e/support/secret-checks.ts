/**
 * The secrets promise (docs/secrets.md): a bundle's values reach the agent and nothing else — not
 * the job's logs, events, the database (file and WAL, read as bytes), agentlabd's own log output,
 * stored artifacts, or cloud-init snippets.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { expect } from "vitest";

export const SECRET_VALUE = "s3cr3t-value-123";

/** secrets_dir/e2e-secrets.yaml */
export const SECRET_BUNDLE = `env:\n  API_KEY: "${SECRET_VALUE}"\n`;

/** Prints the value (to be redacted) and its length (to prove the agent really had it). */
// biome-ignore lint/suspicious/noTemplateCurlyInString: ${#API_KEY} is the shell's, not JavaScript's.
export const SECRETS_AGENT = 'echo "API_KEY=$API_KEY"; echo "key length ${#API_KEY}"; echo "$API_KEY" >&2';

/** Every regular file under `dir`, recursively. */
export function filesUnder(dir: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...filesUnder(path));
    else if (entry.isFile()) found.push(path);
  }
  return found;
}

export function expectSecretNowhere(places: {
  logs: string;
  events: string;
  daemon: string;
  dataDir: string;
  snippets?: string[];
}): void {
  expect(places.logs).toContain("[REDACTED]");
  expect(places.logs).not.toContain(SECRET_VALUE);
  expect(places.events).not.toContain(SECRET_VALUE);
  expect(places.daemon).not.toContain(SECRET_VALUE);
  const files = filesUnder(places.dataDir);
  // The database itself and its write-ahead log are among the files read.
  expect(files.some((f) => f.endsWith(".db"))).toBe(true);
  expect(files.some((f) => f.endsWith(".db-wal"))).toBe(true);
  for (const file of files) {
    if (statSync(file).size === 0) continue;
    expect(readFileSync(file).includes(SECRET_VALUE), `secret found in ${file}`).toBe(false);
  }
  for (const [i, snippet] of (places.snippets ?? []).entries()) {
    expect(snippet.includes(SECRET_VALUE), `secret found in snippet #${i}`).toBe(false);
  }
}
