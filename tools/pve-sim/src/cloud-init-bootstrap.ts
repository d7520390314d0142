import { parse } from "yaml";

/** Where AgentLab's snippet puts the bootstrap payload inside the guest. */
export const BOOTSTRAP_PATH = "/etc/agentlab/bootstrap.json";

interface WriteFile {
  path?: unknown;
  content?: unknown;
  encoding?: unknown;
}

/**
 * Finds the `write_files` entry for `path` in a cloud-init user-data document and returns its
 * decoded content, or undefined (not cloud-config, no such entry, unsupported encoding).
 */
export function extractWriteFile(userData: string, path = BOOTSTRAP_PATH): string | undefined {
  let doc: unknown;
  try {
    doc = parse(userData);
  } catch {
    return undefined;
  }
  if (!doc || typeof doc !== "object") return undefined;
  const files = (doc as { write_files?: unknown }).write_files;
  if (!Array.isArray(files)) return undefined;
  const entry = files.find((f: WriteFile) => f && f.path === path) as WriteFile | undefined;
  if (!entry || typeof entry.content !== "string") return undefined;
  const encoding = typeof entry.encoding === "string" ? entry.encoding.toLowerCase() : "text/plain";
  if (encoding === "b64" || encoding === "base64") return Buffer.from(entry.content, "base64").toString("utf8");
  if (encoding === "text/plain") return entry.content;
  return undefined;
}
