import { constants } from "node:fs";
import { access } from "node:fs/promises";
import { isAbsolute, join } from "node:path";
import { GuestError } from "./guest-error.js";

/** Where the guest finds its inputs and keeps its files; all from the environment (docs/guest-runner.md). */
export interface GuestSettings {
  /** JSON `{token, vmid, controller, artifacts?}` written by cloud-init or the local backend. */
  bootstrapFile: string;
  /** tmpfs directory (mode 0700) holding the payload cache and everything secret. */
  runDir: string;
  /** Askpass helper, git token, SSH key; wiped when the job ends and on unit stop. */
  secretsDir: string;
  /** The job's files: agent.log, report.json, changes.patch, the task, the artifact bundle. */
  jobDir: string;
  /** Where the repository is checked out. */
  repoDir: string;
  /** `git fetch --depth`; 0 fetches the whole history. */
  gitDepth: number;
  /** Seconds between SIGTERM and SIGKILL when the agent is stopped. */
  killGraceSeconds: number;
}

export const DEFAULT_BOOTSTRAP_FILE = "/etc/agentlab/bootstrap.json";
export const DEFAULT_RUN_DIR = "/run/agentlab";

function absolutePath(env: NodeJS.ProcessEnv, name: string, fallback: string): string {
  const value = env[name]?.trim() || fallback;
  if (!isAbsolute(value)) {
    throw new GuestError(`${name}=${JSON.stringify(value)} is not an absolute path`, `set ${name} to an absolute path`);
  }
  return value;
}

function nonNegativeInteger(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  if (!/^\d+$/.test(raw)) {
    throw new GuestError(
      `${name}=${JSON.stringify(raw)} is not a whole number`,
      `set ${name} to a number such as ${fallback}`,
    );
  }
  return Number(raw);
}

async function writable(dir: string): Promise<boolean> {
  try {
    await access(dir, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** Reads the settings; the repository goes to /work/repo when a workspace disk is mounted at /work. */
export async function resolveSettings(env: NodeJS.ProcessEnv): Promise<GuestSettings> {
  const runDir = absolutePath(env, "AGENTLAB_RUN_DIR", DEFAULT_RUN_DIR);
  const repoFallback = (await writable("/work")) ? "/work/repo" : "/tmp/repo";
  return {
    bootstrapFile: absolutePath(env, "AGENTLAB_BOOTSTRAP_FILE", DEFAULT_BOOTSTRAP_FILE),
    runDir,
    secretsDir: absolutePath(env, "AGENTLAB_SECRETS_DIR", join(runDir, "secrets")),
    jobDir: absolutePath(env, "AGENTLAB_JOB_DIR", join(runDir, "job")),
    repoDir: absolutePath(env, "AGENTLAB_REPO_DIR", repoFallback),
    gitDepth: nonNegativeInteger(env, "AGENTLAB_GIT_DEPTH", 1),
    killGraceSeconds: nonNegativeInteger(env, "AGENTLAB_KILL_GRACE_SECONDS", 10),
  };
}
