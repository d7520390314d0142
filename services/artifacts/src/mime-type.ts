import { InvalidArgumentError } from "@agentlab/core/errors";

export const DEFAULT_MIME = "application/octet-stream";

/** Longest suffix first, so `x.tar.gz` is a gzip bundle and not just `.gz`. */
const BY_SUFFIX: ReadonlyArray<readonly [string, string]> = [
  [".tar.gz", "application/gzip"],
  [".tgz", "application/gzip"],
  [".gz", "application/gzip"],
  [".tar", "application/x-tar"],
  [".zip", "application/zip"],
  [".patch", "text/x-diff"],
  [".diff", "text/x-diff"],
  [".json", "application/json"],
  [".jsonl", "application/x-ndjson"],
  [".ndjson", "application/x-ndjson"],
  [".log", "text/plain"],
  [".txt", "text/plain"],
  [".md", "text/markdown"],
  [".html", "text/html"],
  [".csv", "text/csv"],
  [".xml", "application/xml"],
  [".yaml", "application/yaml"],
  [".yml", "application/yaml"],
  [".png", "image/png"],
  [".jpg", "image/jpeg"],
  [".jpeg", "image/jpeg"],
  [".svg", "image/svg+xml"],
  [".pdf", "application/pdf"],
];

/** type/subtype with RFC 6838 restricted-name characters; parameters are dropped before this check. */
const MEDIA_TYPE = /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,63}\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,63}$/;

const GENERIC_TYPES = new Set([DEFAULT_MIME, "application/x-www-form-urlencoded"]);

export function guessMime(path: string): string {
  const lower = path.toLowerCase();
  for (const [suffix, mime] of BY_SUFFIX) if (lower.endsWith(suffix)) return mime;
  return DEFAULT_MIME;
}

/**
 * The media type to record: the uploader's, lower-cased and without parameters, when it gave one;
 * otherwise a guess from the name. A malformed type is refused rather than stored, since the CLI and
 * downloads echo it back into headers.
 */
export function resolveMime(offered: string | undefined, path: string): string {
  const essence = (offered ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
  if (essence === "") return guessMime(path);
  if (!MEDIA_TYPE.test(essence)) {
    throw new InvalidArgumentError({
      message: "media type is malformed",
      what: "mime",
      value: essence.slice(0, 80),
      hint: 'send a type such as "application/gzip", or none to let the server guess from the name',
    });
  }
  // A generic type says nothing the name cannot say better; curl sends the form type for any
  // --data-binary body unless told otherwise.
  return GENERIC_TYPES.has(essence) ? guessMime(path) : essence;
}
