import { rm } from "node:fs/promises";
import { join } from "node:path";
import type { GitCredentials } from "@agentlab/api";
import { ensurePrivateDir, writePrivateFile } from "./private-files.js";

/** Quotes a value for /bin/sh: single quotes, with embedded ones closed, escaped and reopened. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** Environment variables that make git use the credentials written to the secrets directory. */
export type GitEnv = Record<string, string>;

/**
 * Writes the job's git credentials into the secrets directory and returns the environment that makes
 * git (ours and the agent's) use them. The token never appears in a URL, a command line or the
 * environment: git asks the askpass helper, which reads it from a 0600 file. An SSH key is checked
 * against the given known_hosts strictly; only without any known_hosts are host keys accepted on
 * first use (the documented contract of GitCredentials.known_hosts).
 */
export async function installGitCredentials(secretsDir: string, git: GitCredentials | undefined): Promise<GitEnv> {
  await ensurePrivateDir(secretsDir);
  const env: GitEnv = { GIT_TERMINAL_PROMPT: "0" };
  if (!git) return env;
  if (git.token) {
    const tokenFile = join(secretsDir, "git-token");
    const userFile = join(secretsDir, "git-username");
    const askpass = join(secretsDir, "git-askpass.sh");
    await writePrivateFile(tokenFile, git.token);
    await writePrivateFile(userFile, git.username || "x-access-token");
    const script = [
      "#!/bin/sh",
      "# Written by agentlab-guest: answers git's credential prompts; removed when the job ends.",
      'case "$1" in',
      `  Username*|username*) cat ${shellQuote(userFile)} ;;`,
      `  *) cat ${shellQuote(tokenFile)} ;;`,
      "esac",
      "",
    ].join("\n");
    await writePrivateFile(askpass, script, 0o700);
    env.GIT_ASKPASS = askpass;
  }
  if (git.sshPrivateKey) {
    const keyFile = join(secretsDir, "id_agentlab");
    const knownHosts = join(secretsDir, "known_hosts");
    // OpenSSH refuses a key file without its final newline.
    const key = git.sshPrivateKey.endsWith("\n") ? git.sshPrivateKey : `${git.sshPrivateKey}\n`;
    await writePrivateFile(keyFile, key);
    await writePrivateFile(knownHosts, git.knownHosts ? `${git.knownHosts.trimEnd()}\n` : "");
    const checking = git.knownHosts.trim() ? "yes" : "accept-new";
    env.GIT_SSH_COMMAND = [
      "ssh",
      "-i",
      shellQuote(keyFile),
      "-o",
      "IdentitiesOnly=yes",
      "-o",
      "BatchMode=yes",
      "-o",
      `StrictHostKeyChecking=${checking}`,
      "-o",
      `UserKnownHostsFile=${shellQuote(knownHosts)}`,
    ].join(" ");
  }
  return env;
}

/** Removes every secret file the guest wrote. Safe to call more than once. */
export async function wipeSecretsDir(secretsDir: string): Promise<void> {
  await rm(secretsDir, { recursive: true, force: true });
}
