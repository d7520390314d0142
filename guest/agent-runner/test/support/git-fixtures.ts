import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const GIT_IDENTITY = {
  GIT_AUTHOR_NAME: "Test",
  GIT_AUTHOR_EMAIL: "test@example.invalid",
  GIT_COMMITTER_NAME: "Test",
  GIT_COMMITTER_EMAIL: "test@example.invalid",
};

export function git(cwd: string, ...args: string[]): string {
  return execFileSync("git", args, {
    cwd,
    encoding: "utf8",
    env: { ...process.env, ...GIT_IDENTITY, GIT_CONFIG_NOSYSTEM: "1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
}

/** A temp directory that `cleanup` removes. */
export function tempDir(prefix: string, cleanups: (() => void)[]): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * A bare origin repository with two commits on `main`; returns its file:// URL and the head commit.
 */
export function makeOrigin(
  root: string,
  files: Record<string, string> = {},
): { url: string; head: string; dir: string } {
  const work = join(root, "origin-work");
  mkdirSync(work, { recursive: true });
  git(work, "init", "-q", "-b", "main");
  writeFileSync(join(work, "README.md"), "# Demo\n\nfirst line\n");
  git(work, "add", "-A");
  git(work, "commit", "-q", "-m", "first");
  writeFileSync(join(work, "app.txt"), "version 1\n");
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(join(work, name, ".."), { recursive: true });
    writeFileSync(join(work, name), content, { mode: name.endsWith(".sh") ? 0o755 : 0o644 });
  }
  git(work, "add", "-A");
  git(work, "commit", "-q", "-m", "second");
  const bare = join(root, "origin.git");
  git(root, "clone", "-q", "--bare", work, bare);
  return { url: `file://${bare}`, head: git(work, "rev-parse", "HEAD").trim(), dir: bare };
}
