import type { ConfigIssue } from "./config-error.js";

/**
 * The config holds tokens. Group-readable (0640, group agentlab) is how services and the CLI share
 * it; anything writable by others, readable by everyone, or executable is refused. Returns the issue,
 * or undefined when the mode is acceptable.
 */
export function checkConfigFileMode(path: string, mode: number): ConfigIssue | undefined {
  const permissions = mode & 0o777;
  const refused = permissions & 0o137; // owner exec; group write/exec; any "other" bit
  if (refused === 0) return undefined;
  const suggested = permissions & 0o040 ? "0640" : "0600";
  return {
    path,
    message: `file mode ${permissions.toString(8).padStart(4, "0")} is too open: the config holds tokens, so it must not be writable by the group or readable by others`,
    hint: `run: chmod ${suggested} ${path}`,
  };
}
