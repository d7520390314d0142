import { constants } from "node:fs";
import { access, stat } from "node:fs/promises";
import { join } from "node:path";
import type { JobSpec } from "@agentlab/api";
import { shellQuote } from "./git-credentials.js";
import { GuestError } from "./guest-error.js";

/** The repository's own entry point, used when neither the job nor the profile names a command. */
export const REPO_RUN_SCRIPT = ".agentlab/run.sh";

/** The command line the agent runs under `/bin/sh -c`. */
export async function resolveAgentCommand(job: JobSpec, repoDir: string): Promise<string> {
  if (job.agentCommand.trim()) return job.agentCommand;
  const script = join(repoDir, REPO_RUN_SCRIPT);
  try {
    if ((await stat(script)).isFile()) {
      await access(script, constants.X_OK);
      return shellQuote(script);
    }
  } catch {
    // Missing or not executable: explained below.
  }
  throw new GuestError(
    `job ${job.id} has no agent_command and ${REPO_RUN_SCRIPT} is missing or not executable in ${job.repoUrl}`,
    `set agent_command in the profile or the job, or commit an executable ${REPO_RUN_SCRIPT}`,
  );
}

export interface AgentEnvironmentInput {
  /** The guest's own environment (PATH, HOME, …). */
  base: NodeJS.ProcessEnv;
  /** The secrets bundle's variables. */
  secrets: Record<string, string>;
  /** Git credential variables (askpass, SSH command). */
  git: Record<string, string>;
  job: JobSpec;
  repoDir: string;
  taskFile: string;
}

/**
 * The agent's environment. AGENTLAB_* job variables come last so a secrets bundle cannot fake them;
 * the guest's own AGENTLAB_* settings are not the agent's business and are left out.
 */
export function agentEnvironment(input: AgentEnvironmentInput): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(input.base)) {
    if (value !== undefined && !key.startsWith("AGENTLAB_")) env[key] = value;
  }
  // Agents commit; a template without a git identity would make every commit fail.
  env.GIT_AUTHOR_NAME ??= "AgentLab agent";
  env.GIT_AUTHOR_EMAIL ??= "agent@agentlab.invalid";
  env.GIT_COMMITTER_NAME ??= env.GIT_AUTHOR_NAME;
  env.GIT_COMMITTER_EMAIL ??= env.GIT_AUTHOR_EMAIL;
  Object.assign(env, input.secrets, input.git);
  Object.assign(env, {
    AGENTLAB_TASK: input.job.task,
    AGENTLAB_TASK_FILE: input.taskFile,
    AGENTLAB_JOB_ID: input.job.id,
    AGENTLAB_JOB_MODE: input.job.mode,
    AGENTLAB_JOB_PROFILE: input.job.profile,
    AGENTLAB_REPO_DIR: input.repoDir,
  });
  return env;
}
