/**
 * One problem found in a profile document: where it is (file, line, column, dotted key), what is
 * wrong, the offending value and what to do about it. Errors make the document unusable; warnings
 * do not.
 */
export type DiagnosticSeverity = "error" | "warning";

/** A path into a YAML document: mapping keys and sequence indexes, outermost first. */
export type KeyPath = readonly (string | number)[];

export interface SourcePosition {
  /** Path of the file as read (profiles_dir joined with the file name). */
  file: string;
  /** 1-based line in the file (not in the document), 0 when the problem has no position. */
  line: number;
  /** 1-based column, 0 when the problem has no position. */
  column: number;
}

export interface ProfileDiagnostic extends SourcePosition {
  severity: DiagnosticSeverity;
  /** Dotted key (`resources.cores`, `mounts[0].host_path`); empty for the document as a whole. */
  key: string;
  message: string;
  /** The offending value, as written in the YAML, when there is one. */
  value?: unknown;
  /** What the operator can do next. */
  hint?: string;
}

/** `network.firewall_group`, `disks[0].host_path`: how keys are printed everywhere. */
export function formatKeyPath(path: KeyPath): string {
  let text = "";
  for (const segment of path) {
    if (typeof segment === "number") text += `[${segment}]`;
    else text += text === "" ? segment : `.${segment}`;
  }
  return text;
}

export function formatPosition(position: SourcePosition): string {
  if (position.line <= 0) return position.file;
  return `${position.file}:${position.line}:${position.column}`;
}

function formatValue(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** `profiles/a.yaml:12:3: error: resources.cores: must be at least 1 (got 0); set ...` */
export function formatDiagnostic(diagnostic: ProfileDiagnostic): string {
  let text = `${formatPosition(diagnostic)}: ${diagnostic.severity}: `;
  if (diagnostic.key !== "") text += `${diagnostic.key}: `;
  text += diagnostic.message;
  if (diagnostic.value !== undefined) text += ` (got ${formatValue(diagnostic.value)})`;
  if (diagnostic.hint) text += `; ${diagnostic.hint}`;
  return text;
}

/** A diagnostic before it has been placed in the file: the validator adds file, line and column. */
export interface DocumentFinding {
  severity: DiagnosticSeverity;
  path: KeyPath;
  message: string;
  value?: unknown;
  hint?: string;
}
