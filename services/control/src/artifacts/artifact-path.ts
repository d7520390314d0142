/**
 * Control's own check of the paths the artifacts service sends. That service sanitises first; we
 * check again because these strings end up in rows that retention hands back as files to delete,
 * and a path naming another job's folder must never get a row.
 */
import { InvalidArgumentError } from "@agentlab/core";

/** What a guest gets when it names no path: the bundle the guest runner always uploads. */
export const DEFAULT_ARTIFACT_PATH = "agentlab-artifacts.tar.gz";

const MAX_PATH_BYTES = 1024;
const CONTROL_CHARACTER = /[\u0000-\u001f\u007f]/;
/** A name percent-encoded more often than this is refused rather than decoded further. */
const MAX_DECODE_ROUNDS = 4;

function refuse(what: string, reason: string, value: string): never {
  throw new InvalidArgumentError({
    message: `${what} refused: ${reason}`,
    what,
    value: value.length > 80 ? `${value.slice(0, 77)}...` : value,
    hint: 'use a relative path such as "logs/agent.log" without "..", ".", empty segments, backslashes or control characters',
  });
}

function problemIn(text: string): string | undefined {
  if (CONTROL_CHARACTER.test(text)) return "contains NUL or a control character";
  if (text.includes("\\")) return "contains a backslash";
  if (text.startsWith("/")) return "is absolute";
  if (/^[A-Za-z]:/.test(text)) return "looks like a drive-letter path";
  for (const segment of text.split("/")) {
    if (segment === "") return "has an empty segment";
    if (segment === "." || segment === "..") return `contains "${segment}"`;
  }
  return undefined;
}

/** Refuses unless `text` and every percent-decoding of it is a plain relative path. */
function checkRelative(what: string, raw: string): void {
  if (Buffer.byteLength(raw) > MAX_PATH_BYTES) refuse(what, `longer than ${MAX_PATH_BYTES} bytes`, raw);
  let text = raw;
  for (let round = 0; ; round++) {
    const problem = problemIn(text);
    if (problem) refuse(what, problem, raw);
    if (!text.includes("%")) return;
    if (round === MAX_DECODE_ROUNDS) refuse(what, "percent-encoded too many times", raw);
    let decoded: string;
    try {
      decoded = decodeURIComponent(text);
    } catch {
      return; // not valid percent-encoding, so nothing downstream decodes it into something else
    }
    if (decoded === text) return;
    text = decoded;
  }
}

/** The guest's relative path, checked; empty means the default bundle. */
export function checkArtifactPath(raw: string): string {
  if (raw === "") return DEFAULT_ARTIFACT_PATH;
  checkRelative("path", raw);
  return raw;
}

/** A stored path must be a clean relative path inside the folder of the job the token belongs to. */
export function checkStoredPathForJob(storedPath: string, jobId: string): string {
  if (storedPath === "") refuse("stored_path", "is empty", storedPath);
  checkRelative("stored_path", storedPath);
  if (!storedPath.startsWith(`${jobId}/`)) {
    refuse("stored_path", `is outside the folder of job ${jobId}`, storedPath);
  }
  return storedPath;
}

export function baseName(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}
