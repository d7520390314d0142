/**
 * A small git repository for jobs to clone, made with the real git: a README and a script on branch
 * main, one commit. Its parent must be searchable by the sandbox uid (the deployment dir is 0711);
 * the repository itself is world-readable so a local sandbox can fetch from it.
 */
import { execFileSync } from "node:child_process";
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface ScratchRepo {
  path: string;
  /** The commit of main when the repository was made: every job's start commit. */
  head: string;
}

export function git(cwd: string, ...args: string[]): string {
  return execFileSync("git", ["-c", "user.name=AgentLab e2e", "-c", "user.email=e2e@agentlab.invalid", ...args], {
    cwd,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  }).trim();
}

export function createScratchRepo(parent: string, name = "repo"): ScratchRepo {
  const path = join(parent, name);
  mkdirSync(path, { recursive: true });
  chmodSync(path, 0o755);
  git(path, "init", "-q", "-b", "main");
  writeFileSync(join(path, "README.md"), "# e2e\n\nA repository for AgentLab's end-to-end job tests.\n");
  writeFileSync(join(path, "greet.sh"), '#!/bin/sh\necho "hello"\n', { mode: 0o755 });
  git(path, "add", ".");
  git(path, "commit", "-q", "-m", "initial commit");
  return { path, head: git(path, "rev-parse", "HEAD") };
}

/**
 * An agent command that changes the repository the way a coding agent would: edits a tracked file,
 * adds a new one and commits one change. Prints a line first so a test can see output arrive.
 */
export const EDITING_AGENT = [
  'echo "task: $AGENTLAB_TASK"',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: ${1:-world} is the shell's, not JavaScript's.
  "printf '#!/bin/sh\\necho \"hello, ${1:-world}\"\\n' > greet.sh",
  "echo 'Run ./greet.sh NAME to be greeted.' >> README.md",
  "echo '*.log' > .gitignore && git add .gitignore && git commit -q -m 'ignore logs'",
  'echo "done: greet.sh takes a name now"',
].join(" && ");
