/**
 * Secrets bundles (DESIGN §2): `secrets_dir/<bundle>.yaml`, readable only by control's user, holding
 * env vars and git credentials for the guest. Their contents are delivered only inside the
 * FetchBootstrap payload: never stored in the database, events, logs or bootstrap snippets. Jobs
 * store the bundle's NAME only.
 */
import { closeSync, constants, fstatSync, openSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { FailedPreconditionError, InvalidArgumentError, NotFoundError } from "@agentlab/core";
import { parse } from "yaml";
import { z } from "zod";

/** Same rule as a profile's `secrets_bundle`: a plain file name, so no path can escape secrets_dir. */
const BUNDLE_NAME = /^[a-z0-9_-]{1,64}$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Values shorter than this are not redacted: hiding "abc" would mangle every line (guest does the same). */
export const MIN_REDACTED_SECRET_LENGTH = 6;

const bundleSchema = z
  .object({
    env: z
      .record(
        z.string().regex(ENV_NAME, { error: "env names must match [A-Za-z_][A-Za-z0-9_]*" }),
        z.string({ error: "env values must be strings (quote numbers and booleans)" }),
      )
      .default({}),
    git: z
      .object({
        token: z.string().optional(),
        username: z.string().optional(),
        ssh_private_key: z.string().optional(),
        known_hosts: z.string().optional(),
      })
      .strict()
      .default({}),
  })
  .strict();

export type SecretsBundle = z.output<typeof bundleSchema>;

export function checkBundleName(name: string): void {
  if (!BUNDLE_NAME.test(name)) {
    throw new InvalidArgumentError({
      message: `invalid secrets bundle name ${JSON.stringify(name)}`,
      what: "secrets_bundle",
      value: name,
      hint: "use 1-64 characters of a-z, 0-9, '_' or '-' (the file secrets_dir/<name>.yaml)",
    });
  }
}

export function bundlePath(secretsDir: string, name: string): string {
  checkBundleName(name);
  return join(secretsDir, `${name}.yaml`);
}

interface BundleFile {
  text: string;
  mtimeMs: number;
  size: number;
}

/** Opens once and checks the open file (not the path) so a swapped file cannot slip past the mode check. */
function readBundleFile(path: string, name: string): BundleFile {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") {
      throw new NotFoundError({
        message: `secrets bundle ${name} not found`,
        what: "secrets_bundle",
        value: path,
        hint: `create ${path} (mode 0600), or remove secrets_bundle from the job or profile`,
      });
    }
    throw new FailedPreconditionError({
      message: `secrets bundle ${name} cannot be read (${code ?? "error"})`,
      what: "secrets_bundle",
      value: path,
      hint: `make ${path} a regular file owned by control's user, mode 0600`,
    });
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) {
      throw new FailedPreconditionError({
        message: `secrets bundle ${name} is not a regular file`,
        what: "secrets_bundle",
        value: path,
      });
    }
    if ((stat.mode & 0o077) !== 0) {
      const mode = (stat.mode & 0o777).toString(8).padStart(4, "0");
      throw new FailedPreconditionError({
        message: `secrets bundle ${name} has mode ${mode}: group or others may read it; run chmod 0600 ${path}`,
        what: "secrets_bundle",
        value: path,
        hint: "bundles must be readable by control's user only (0600 or 0400)",
      });
    }
    return { text: readFileSync(fd, "utf8"), mtimeMs: stat.mtimeMs, size: stat.size };
  } finally {
    closeSync(fd);
  }
}

/** Parses and validates bundle text; errors name the key, never a value. */
export function parseSecretsBundle(text: string, name: string, path: string): SecretsBundle {
  let raw: unknown;
  try {
    raw = parse(text) ?? {};
  } catch (err) {
    const line = (err as { linePos?: { line: number }[] }).linePos?.[0]?.line;
    throw new FailedPreconditionError({
      message: `secrets bundle ${name} is not valid YAML${line ? ` (line ${line})` : ""}`,
      what: "secrets_bundle",
      value: path,
    });
  }
  const result = bundleSchema.safeParse(raw);
  if (!result.success) {
    // A bad env NAME is reported by zod as "Invalid key in record" with the real reason nested.
    const problems = result.error.issues
      .map((i) => {
        const nested = (i as { issues?: { message: string }[] }).issues?.[0]?.message;
        return `${i.path.join(".") || "(top level)"}: ${nested ?? i.message}`;
      })
      .join("; ");
    throw new FailedPreconditionError({
      message: `secrets bundle ${name} is invalid: ${problems}`,
      what: "secrets_bundle",
      value: path,
      hint: "expected { env: {NAME: value}, git: {token?, username?, ssh_private_key?, known_hosts?} }",
    });
  }
  return result.data;
}

/** Every value worth redacting from guest output and messages. */
export function secretValues(bundle: SecretsBundle): string[] {
  const values = [
    ...Object.values(bundle.env),
    bundle.git.token,
    bundle.git.ssh_private_key,
    // A key's individual lines too: a multi-line secret is usually printed across several log chunks.
    ...(bundle.git.ssh_private_key?.split("\n") ?? []),
  ];
  return [
    ...new Set(
      values.filter((v): v is string => typeof v === "string" && v.trim().length >= MIN_REDACTED_SECRET_LENGTH),
    ),
  ];
}

/**
 * Reads bundles from secrets_dir. Parsed bundles are cached by (mtime, size) so the AppendLogs path
 * (which redacts with the bundle's values) does not re-read the file for every log batch, while an
 * edited bundle is still picked up.
 */
export class SecretsBundleReader {
  private readonly cache = new Map<string, { mtimeMs: number; size: number; bundle: SecretsBundle }>();

  constructor(readonly secretsDir: string) {}

  /** The bundle, or a domain error: NOT_FOUND (missing), FAILED_PRECONDITION (mode, YAML, schema). */
  load(name: string): SecretsBundle {
    const path = bundlePath(this.secretsDir, name);
    const file = readBundleFile(path, name);
    const cached = this.cache.get(name);
    if (cached && cached.mtimeMs === file.mtimeMs && cached.size === file.size) return cached.bundle;
    const bundle = parseSecretsBundle(file.text, name, path);
    this.cache.set(name, { mtimeMs: file.mtimeMs, size: file.size, bundle });
    return bundle;
  }

  /** Redaction values of a bundle; none when the job has no bundle or it cannot be read any more. */
  valuesFor(name: string | null | undefined): string[] {
    if (!name) return [];
    try {
      return secretValues(this.load(name));
    } catch {
      // The payload already went out; a bundle removed since then must not stop log intake.
      return this.cache.has(name) ? secretValues(this.cache.get(name)!.bundle) : [];
    }
  }
}
