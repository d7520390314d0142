/**
 * Waiting on a job or sandbox through the CLI, as a script would: poll `show --output json` until a
 * condition holds. The deadlines are generous safety nets against a hang, not timing assertions.
 */
import type { JobsDeployment } from "./jobs-deployment.js";

export interface JobJson {
  id: string;
  status: string;
  sandbox_vmid?: number;
  failure_reason?: string;
  cancel_requested?: boolean;
  result?: {
    exit_code?: number;
    start_commit?: string;
    final_commit?: string;
    message?: string;
    artifacts?: Array<{ name: string; path: string; size_bytes?: number | string }>;
  };
}

export interface EventJson {
  id: number | string;
  ts: string;
  kind: string;
  sandbox_vmid?: number;
  job_id?: string;
  msg?: string;
  payload?: Record<string, unknown>;
}

export const FINAL_JOB_STATES = ["COMPLETED", "FAILED", "TIMEOUT", "CANCELED"];

export async function until<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 90_000,
  intervalMs = 200,
): Promise<T> {
  const giveUpAt = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > giveUpAt) throw new Error(`gave up waiting for ${what} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

export async function showJob(d: JobsDeployment, jobId: string): Promise<JobJson> {
  return (await d.cliJson<{ job: JobJson }>(["job", "show", jobId])).job;
}

export async function jobEvents(d: JobsDeployment, jobId: string): Promise<EventJson[]> {
  return d.cliJson<EventJson[]>(["events", "--job", jobId, "--tail", "1000"]);
}

export function waitForJob(
  d: JobsDeployment,
  jobId: string,
  condition: (job: JobJson) => boolean,
  what: string,
  timeoutMs?: number,
): Promise<JobJson> {
  return until(
    `job ${jobId} ${what}`,
    async () => {
      const job = await showJob(d, jobId);
      return condition(job) ? job : undefined;
    },
    timeoutMs,
  );
}

export function waitForFinalJob(d: JobsDeployment, jobId: string, timeoutMs?: number): Promise<JobJson> {
  return waitForJob(d, jobId, (job) => FINAL_JOB_STATES.includes(job.status), "to end", timeoutMs);
}

/** Waits until the sandbox is DESTROYED and returns its JSON. */
export function waitForSandboxDestroyed(
  d: JobsDeployment,
  vmid: number,
  timeoutMs?: number,
): Promise<{ vmid: number; state: string; termination_reason?: string }> {
  return until(
    `sandbox ${vmid} to be destroyed`,
    async () => {
      const sandbox = await d.cliJson<{ vmid: number; state: string }>(["sandbox", "show", String(vmid)]);
      return sandbox.state === "DESTROYED" ? sandbox : undefined;
    },
    timeoutMs,
  );
}

/** `job run --no-follow`: queues the job and returns its id. */
export async function queueJob(d: JobsDeployment, args: { agent: string; task?: string; extra?: string[] }) {
  const queued = await d.cliJson<JobJson>([
    "job",
    "run",
    "--repo",
    d.repo.path,
    "--task",
    args.task ?? "e2e task",
    "--profile",
    d.profile,
    "--agent-command",
    args.agent,
    "--no-follow",
    ...(args.extra ?? []),
  ]);
  return queued.id;
}
