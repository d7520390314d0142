import { lstat, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";

/**
 * A `.git` left in a reused workspace was writable by the previous job's agent, so everything in it
 * that git would *execute* or *follow* is hostile until proven otherwise (reference §8 item 28: a
 * planted hook ran in the next job). Rather than hunting for dangerous keys (include, includeIf,
 * filter.*, url.*.insteadOf, core.fsmonitor, core.sshCommand, remote.*.uploadpack, diff.*.textconv,
 * credential helpers, aliases and whatever git adds next), the config is rebuilt from a short list
 * of inert keys; the remote is re-added by the caller.
 */
const KEPT_KEYS: Record<string, Record<string, RegExp>> = {
  core: {
    repositoryformatversion: /^[01]$/,
    filemode: /^(true|false)$/i,
    logallrefupdates: /^(true|false|always)$/i,
    ignorecase: /^(true|false)$/i,
    precomposeunicode: /^(true|false)$/i,
    symlinks: /^(true|false)$/i,
  },
  // The object format must survive, or a sha256 repository becomes unreadable.
  extensions: { objectformat: /^(sha1|sha256)$/i },
};

const SECTION = /^\s*\[\s*([A-Za-z0-9.-]+)(\s+"(?:[^"\\]|\\.)*")?\s*\]\s*(.*)$/;
const ENTRY = /^\s*([A-Za-z][A-Za-z0-9-]*)\s*(?:=\s*(.*?))?\s*$/;

/** Rebuilds git config text keeping only KEPT_KEYS; returns the new text and what was dropped. */
export function sanitizeGitConfig(text: string): { config: string; dropped: string[] } {
  const kept = new Map<string, Map<string, string>>();
  const dropped = new Set<string>();
  let section = "";
  let subsection = false;
  let continued = false;
  for (const line of text.split(/\r?\n/)) {
    // A value continued with a trailing backslash belongs to an entry already judged.
    const wasContinued = continued;
    continued = /\\$/.test(line);
    if (wasContinued) continue;
    let body = line.replace(/^\s+/, "");
    if (body === "" || body.startsWith("#") || body.startsWith(";")) continue;
    const header = SECTION.exec(body);
    if (header) {
      section = (header[1] ?? "").toLowerCase();
      subsection = header[2] !== undefined || section.includes(".");
      body = header[3] ?? "";
      if (body.trim() === "") continue;
    }
    const entry = ENTRY.exec(body.replace(/\s[#;].*$/, ""));
    const key = entry?.[1]?.toLowerCase() ?? "";
    const value = (entry?.[2] ?? "true").replace(/^"(.*)"$/, "$1");
    const rule = subsection ? undefined : KEPT_KEYS[section]?.[key];
    if (entry && rule?.test(value)) {
      const keys = kept.get(section) ?? new Map<string, string>();
      keys.set(key, value);
      kept.set(section, keys);
    } else {
      dropped.add(`${section}${subsection ? ".<sub>" : ""}.${key || "?"}`);
    }
  }
  let config = "";
  for (const [name, keys] of kept) {
    config += `[${name}]\n`;
    for (const [key, value] of keys) config += `\t${key} = ${value}\n`;
  }
  return { config, dropped: [...dropped] };
}

/** Files inside `.git` that make git run or read something chosen by whoever wrote them. */
const UNTRUSTED_FILES = [
  "config.worktree",
  "info/attributes",
  "objects/info/alternates",
  "objects/info/http-alternates",
];

/**
 * Whether a `.git` can be sanitised in place. A gitfile, a symlink or a linked worktree
 * (`commondir`) points at a directory we cannot vouch for: the caller replaces it with a fresh one.
 */
export async function isRepairableGitDir(gitDir: string): Promise<boolean> {
  const info = await lstat(gitDir);
  if (!info.isDirectory()) return false;
  try {
    await lstat(join(gitDir, "commondir"));
    return false;
  } catch {
    return true;
  }
}

/** Sanitises a reused `.git` in place; returns a description of what was removed, for the log. */
export async function sanitizeGitDir(gitDir: string): Promise<string[]> {
  const removed: string[] = [];
  const configPath = join(gitDir, "config");
  let original = "";
  try {
    original = await readFile(configPath, "utf8");
  } catch {
    // No config: git init will write one.
  }
  const { config, dropped } = sanitizeGitConfig(original);
  await writeFile(configPath, config, { mode: 0o644 });
  removed.push(...dropped.map((key) => `config ${key}`));
  for (const file of UNTRUSTED_FILES) {
    const path = join(gitDir, file);
    try {
      await lstat(path);
      await rm(path, { force: true, recursive: true });
      removed.push(file);
    } catch {
      // Not there.
    }
  }
  const hooksDir = join(gitDir, "hooks");
  try {
    const hooks = await readdir(hooksDir);
    for (const hook of hooks) await rm(join(hooksDir, hook), { recursive: true, force: true });
    if (hooks.length > 0) removed.push(`hooks/ (${hooks.length} files)`);
  } catch {
    // No hooks directory.
  }
  return removed;
}
