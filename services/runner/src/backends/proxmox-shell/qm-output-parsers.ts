import { BackendError } from "../../backend-errors.js";

/**
 * Parsers for what the Proxmox CLI prints (reference/proxmox.md §2 table).
 */

/**
 * The error message in a CLI's stderr: drops the usage line, the WARNINGS note and blank lines; a
 * 400 keeps its `param: message` lines (they say what was wrong).
 */
export function errorTextFromStderr(stderr: string): string {
  const lines = stderr
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l.length > 0)
    .filter((l) => !/^Task finished with \d+ warning\(s\)!$/.test(l))
    .filter((l) => !/^(USAGE: )?(qm|pvesh|pvesm) /.test(l));
  return lines.join("; ");
}

/** `pvesh get … --output-format json` prints the bare `data` (nothing for null). */
export function parsePveshJson(stdout: string, what: string): unknown {
  const text = stdout.trim();
  if (text === "") return null;
  try {
    return JSON.parse(text);
  } catch {
    throw new BackendError("internal", `${what}: pvesh printed something that is not JSON: ${text.slice(0, 200)}`);
  }
}

/** `pvesm alloc` prints `successfully created '<volid>'`, not the bare volid (§2; the original took the line). */
export function parsePvesmAlloc(stdout: string): string {
  const m = /successfully created '([^']+)'/.exec(stdout);
  if (!m) {
    throw new BackendError(
      "internal",
      `pvesm alloc printed no "successfully created '<volid>'" line: ${stdout.trim().slice(0, 200)}`,
    );
  }
  return m[1]!;
}

/**
 * `qm status <vmid>` → `status: <qmpstatus>`; also `paused`, `prelaunch`, `suspended` (the
 * original's parser rejected `paused`, §2).
 */
export function parseQmStatus(stdout: string): string {
  const m = /^status:\s*(\S+)/m.exec(stdout);
  if (!m) throw new BackendError("internal", `qm status printed no 'status:' line: ${stdout.trim().slice(0, 200)}`);
  return m[1]!;
}

/** `qm config` escapes `%`, `:`, control and non-ASCII characters in the description as %XX. */
export function unescapeQmDescription(text: string): string {
  return text.replace(/((?:%[0-9A-Fa-f]{2})+)/g, (seq) => {
    try {
      return decodeURIComponent(seq);
    } catch {
      return seq;
    }
  });
}

/** `qm config <vmid>` → key/value map (sorted lines `key: value`, no digest). */
export function parseQmConfig(stdout: string): Record<string, string> {
  const config: Record<string, string> = {};
  for (const line of stdout.split("\n")) {
    const m = /^([a-z][a-z0-9_-]*):\s?(.*)$/.exec(line);
    if (!m) continue;
    config[m[1]!] = m[1] === "description" ? unescapeQmDescription(m[2]!) : m[2]!;
  }
  return config;
}
