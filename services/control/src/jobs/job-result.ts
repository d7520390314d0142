/**
 * What goes into `jobs.result_json`. The original stored free-form JSON there (`{status, message?,
 * artifacts?, result?, reported_at}`); ours is marked with `schema` so the two are never confused:
 * an unmarked value is shown raw as `legacy_result_json`. Artifacts are not copied in: they are read
 * from the artifacts table, which is the record of what was really uploaded.
 */
export const RESULT_SCHEMA = "agentlab.job_result.v1";

export interface JobResultRecord {
  schema: typeof RESULT_SCHEMA;
  /** Final status as the guest reported it (bare name). */
  status: string;
  exitCode: number;
  durationSeconds: number;
  startCommit: string;
  finalCommit: string;
  message: string;
  reportedAt: string;
}

export function encodeJobResult(result: Omit<JobResultRecord, "schema">): string {
  return JSON.stringify({ schema: RESULT_SCHEMA, ...result });
}

/** Ours, or undefined when the text is the original's free-form JSON (or unreadable). */
export function decodeJobResult(text: string | null): JobResultRecord | undefined {
  if (!text) return undefined;
  try {
    const value = JSON.parse(text) as Partial<JobResultRecord> | null;
    if (value && typeof value === "object" && value.schema === RESULT_SCHEMA) return value as JobResultRecord;
  } catch {
    // Not JSON at all: shown raw like any other legacy value.
  }
  return undefined;
}
