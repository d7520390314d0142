/** One problem found in a config (or profile) file. */
export interface ConfigIssue {
  /** The file the problem is in, or `<overrides>` / `<defaults>` when it came from elsewhere. */
  path: string;
  /** 1-based line of the offending key, when known. */
  line?: number;
  /** The key, dotted for nested values (`runners.0.endpoint`). */
  key?: string;
  /** What is wrong, including the offending value. */
  message: string;
  /** What to do about it. */
  hint?: string;
}

/** `path:line: key: message (hint)` — the form editors and terminals link. */
export function formatConfigIssue(issue: ConfigIssue): string {
  const where = issue.line === undefined ? issue.path : `${issue.path}:${issue.line}`;
  const key = issue.key ? `${issue.key}: ` : "";
  const hint = issue.hint ? `\n  hint: ${issue.hint}` : "";
  return `${where}: ${key}${issue.message}${hint}`;
}

/**
 * Every problem that makes a config unusable, collected rather than stopping at the first, so that
 * `--config-check` prints them all at once.
 */
export class ConfigError extends Error {
  readonly issues: readonly ConfigIssue[];
  /** Warnings found before the failure, so a check can print those too. */
  readonly warnings: readonly ConfigIssue[];
  constructor(issues: readonly ConfigIssue[], warnings: readonly ConfigIssue[] = []) {
    const count = issues.length === 1 ? "1 problem" : `${issues.length} problems`;
    super(`invalid configuration (${count}):\n${issues.map(formatConfigIssue).join("\n")}`);
    this.name = "ConfigError";
    this.issues = issues;
    this.warnings = warnings;
  }
}
