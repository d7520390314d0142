import { InvalidArgumentError } from "@agentlab/core/errors";

/** What a guest gets when it names no path: the bundle the guest runner always uploads. */
export const DEFAULT_ARTIFACT_PATH = "agentlab-artifacts.tar.gz";

/** Room left in a 255-byte file name for the `.<16 hex>` suffix that keeps two uploads apart. */
export const MAX_SEGMENT_BYTES = 200;
export const MAX_PATH_BYTES = 1024;
/** Job ids become directory names; control mints `job_` + hex, we accept a little more and nothing risky. */
const JOB_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;
/** C0 controls and DEL: never valid in a name a human will later type or a terminal will print. */
const CONTROL_CHARACTER = /[\u0000-\u001f\u007f]/;
/** Percent-decoding stops here: a name encoded deeper than this is refused rather than guessed at. */
const MAX_DECODE_ROUNDS = 4;

function refuse(reason: string, value: string): never {
  throw new InvalidArgumentError({
    message: `artifact path refused: ${reason}`,
    what: "path",
    value,
    hint: 'send a relative path such as "logs/agent.log" without "..", ".", empty segments, backslashes or control characters',
  });
}

/**
 * Checks a guest-supplied relative path and returns it unchanged (or the default bundle name for an
 * empty one). Refused rather than repaired: a guest that sends `../x` is buggy or hostile, and a
 * silently rewritten name would store the file somewhere the uploader did not ask for. Every
 * percent-decoding of the text is checked too, because some later tool (a browser, the CLI building
 * a URL) may decode it once more.
 */
export function sanitizeArtifactPath(raw: string): string {
  if (raw === "") return DEFAULT_ARTIFACT_PATH;
  if (Buffer.byteLength(raw) > MAX_PATH_BYTES) refuse(`longer than ${MAX_PATH_BYTES} bytes`, shorten(raw));
  let text = raw;
  for (let round = 0; round <= MAX_DECODE_ROUNDS; round++) {
    checkForm(text, raw);
    if (!text.includes("%")) return raw;
    let decoded: string;
    try {
      decoded = decodeURIComponent(text);
    } catch {
      // Not valid percent-encoding, so no decoder will turn it into something else; keep it literal.
      return raw;
    }
    if (decoded === text) return raw;
    text = decoded;
  }
  return refuse("percent-encoded too many times", raw);
}

function checkForm(text: string, raw: string): void {
  if (text.includes("\u0000")) refuse("contains NUL", raw);
  if (CONTROL_CHARACTER.test(text)) refuse("contains a control character", raw);
  if (text.includes("\\")) refuse("contains a backslash", raw);
  if (text.startsWith("/")) refuse("is absolute", raw);
  if (/^[A-Za-z]:/.test(text)) refuse("looks like a drive-letter path", raw);
  for (const segment of text.split("/")) {
    if (segment === "") refuse("has an empty segment (leading, trailing or doubled /)", raw);
    if (segment === "..") refuse('contains ".."', raw);
    if (segment === ".") refuse('contains "."', raw);
    if (Buffer.byteLength(segment) > MAX_SEGMENT_BYTES) {
      refuse(`has a segment longer than ${MAX_SEGMENT_BYTES} bytes`, shorten(raw));
    }
  }
}

/** Checks a job id before it names a directory under artifact_dir. */
export function checkJobId(jobId: string): string {
  if (!JOB_ID_PATTERN.test(jobId)) {
    throw new InvalidArgumentError({
      message: "job id is not usable as a directory name",
      what: "job_id",
      value: shorten(jobId),
      hint: "job ids look like job_0123456789abcdef",
    });
  }
  return jobId;
}

/**
 * Checks a stored path as control recorded it (`<job_id>/<path>.<suffix>`, or `<job_id>/<path>` for
 * rows migrated from the original) and that it belongs to the job it is used for.
 */
export function checkStoredPath(storedPath: string, jobId: string): string {
  const slash = storedPath.indexOf("/");
  const owner = slash < 0 ? storedPath : storedPath.slice(0, slash);
  if (slash < 0 || owner !== jobId) {
    throw new InvalidArgumentError({
      message: `stored path does not belong to job ${jobId}`,
      what: "stored_path",
      value: shorten(storedPath),
      hint: "stored paths are <job_id>/<path> as control recorded them",
    });
  }
  sanitizeArtifactPath(storedPath.slice(slash + 1) || "/");
  return storedPath;
}

/** The base name of a sanitised path. */
export function baseName(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

function shorten(text: string): string {
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
