/** What replaces a secret in logs, reports and guest output. */
export const REDACTED = "[REDACTED]";

/**
 * Field names whose values are secrets wherever they appear. Pino cannot match a suffix such as
 * `*_token`, so every token name the system uses is listed.
 */
export const SECRET_FIELD_NAMES = [
  "token",
  "tokens",
  "access_token",
  "refresh_token",
  "auth_token",
  "api_token",
  "bootstrap_token",
  "report_token",
  "upload_token",
  "artifact_token",
  "proxmox_api_token",
  "control_auth_token",
  "internal_token",
  "authorization",
  "Authorization",
  "password",
  "passphrase",
  "secret",
  "secrets",
  "private_key",
  "privateKey",
  "ssh_private_key",
  "cookie",
  "Cookie",
  "git_credentials",
] as const;

/** Objects whose every value is secret (environment variables handed to agents). */
const SECRET_VALUE_MAPS = ["env", "environment"] as const;

/** How deep below the top level secret fields are still found (pino paths need explicit wildcards). */
const REDACTION_DEPTH = 4;

/** Pino `redact.paths` covering the secret fields at the top level and up to REDACTION_DEPTH levels down. */
export function secretRedactionPaths(): string[] {
  const paths: string[] = [];
  for (let depth = 0; depth <= REDACTION_DEPTH; depth++) {
    const prefix = "*.".repeat(depth);
    for (const name of SECRET_FIELD_NAMES) paths.push(`${prefix}${name}`);
    for (const map of SECRET_VALUE_MAPS) paths.push(`${prefix}${map}.*`);
    // Hyphenated names need bracket syntax, which pino only accepts after a parent.
    paths.push(`${prefix}headers["set-cookie"]`, `${prefix}headers["x-agentlab-token"]`);
  }
  return paths;
}

/**
 * Replaces every occurrence of the given secret values in free text (agent output, error messages).
 * Longer secrets are replaced first so that one secret containing another is hidden whole; empty
 * and very short values are skipped, since hiding "a" would mangle every line.
 */
export function redactSecrets(text: string, secrets: readonly (string | undefined)[]): string {
  const values = [...new Set(secrets.filter((s): s is string => typeof s === "string" && s.length >= 4))].sort(
    (a, b) => b.length - a.length,
  );
  let result = text;
  for (const value of values) result = result.split(value).join(REDACTED);
  return result;
}
