import { GuestJobStatus } from "@agentlab/api";
import { writePrivateFile } from "./private-files.js";

/** How a job ended, as the guest reports it and writes it to report.json. */
export interface JobOutcome {
  status: GuestJobStatus;
  /** The agent's exit code; -1 when it was killed or never ran. */
  exitCode: number;
  durationSeconds: number;
  startCommit: string;
  finalCommit: string;
  message: string;
}

/** The status name without its prefix, e.g. "COMPLETED". */
export function statusName(status: GuestJobStatus): string {
  return GuestJobStatus[status] ?? "UNSPECIFIED";
}

/** report.json: the outcome in snake_case, as every other JSON of AgentLab. */
export async function writeJobReport(
  path: string,
  outcome: JobOutcome,
  job: { id: string; mode: string },
): Promise<void> {
  const report = {
    job_id: job.id,
    status: statusName(outcome.status),
    exit_code: outcome.exitCode,
    duration_seconds: outcome.durationSeconds,
    start_commit: outcome.startCommit,
    final_commit: outcome.finalCommit,
    mode: job.mode,
    message: outcome.message,
  };
  await writePrivateFile(path, `${JSON.stringify(report, null, 2)}\n`);
}
