import { readFileSync, statSync } from "node:fs";
import { isMap, isPair, isScalar, isSeq, LineCounter, type Node, parseDocument } from "yaml";
import type { z } from "zod";
import { ConfigError, type ConfigIssue } from "./config-error.js";
import { CONFIG_KEYS, type ConfigFileInput, configFileSchema } from "./config-schema.js";
import { DEPRECATED_KEYS, RETIRED_KEYS } from "./deprecated-keys.js";
import { checkConfigFileMode } from "./file-mode-check.js";
import { closestKey } from "./key-suggestions.js";
import { type AgentLabConfig, resolveConfig } from "./resolve-config.js";

export const DEFAULT_CONFIG_PATH = "/etc/agentlab/config.yaml";
/** Environment variable naming the config file when no path is passed (the path only; env sets no keys). */
export const CONFIG_PATH_ENV = "AGENTLAB_CONFIG";

/** Values from command-line flags; they win over the file and are validated like it. */
export type ConfigOverrides = ConfigFileInput & {
  /** `--db`: the database path (db_path). */
  db?: string;
};

/** The file system the loader reads through, injectable for tests. */
export interface ConfigFileSystem {
  readFile(path: string): string;
  /** File mode bits, or undefined when the file does not exist. */
  statMode(path: string): number | undefined;
}

export interface LoadConfigOptions {
  /** `--config`; an explicit path must exist. */
  path?: string;
  overrides?: ConfigOverrides;
  env?: Readonly<Record<string, string | undefined>>;
  /** Fail when the file is missing (services); clients fall back to defaults. */
  requireFile?: boolean;
  fs?: ConfigFileSystem;
}

export interface LoadedConfig {
  config: AgentLabConfig;
  /** Unknown, deprecated and retired keys: the config works, but should be edited. */
  warnings: ConfigIssue[];
  /** The file read, or undefined when none existed and defaults were used. */
  sourcePath: string | undefined;
}

export const nodeConfigFileSystem: ConfigFileSystem = {
  readFile: (path) => readFileSync(path, "utf8"),
  statMode(path) {
    try {
      return statSync(path).mode;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw err;
    }
  },
};

const OVERRIDES_SOURCE = "<overrides>";
const SECRET_KEY = /token|secret|password/;

/**
 * Reads, validates and resolves the config. Every problem is collected; if any makes the config
 * unusable, a ConfigError carrying all of them (and the warnings) is thrown.
 */
export function loadConfig(options: LoadConfigOptions = {}): LoadedConfig {
  const fs = options.fs ?? nodeConfigFileSystem;
  const env = options.env ?? process.env;
  const explicitPath = options.path ?? env[CONFIG_PATH_ENV];
  const path = explicitPath ?? DEFAULT_CONFIG_PATH;
  const issues: ConfigIssue[] = [];
  const warnings: ConfigIssue[] = [];

  const file = readConfigFile(path, fs, issues, options.requireFile === true || options.path !== undefined);
  const lineOf = file?.lineOf ?? (() => undefined);
  const raw: Record<string, unknown> = { ...(file?.values ?? {}) };

  checkUnknownKeys(raw, path, lineOf, warnings);
  applyDeprecations(raw, path, lineOf, issues, warnings);

  const overrideKeys = new Set<string>();
  for (const [key, value] of Object.entries(options.overrides ?? {})) {
    if (value === undefined) continue;
    const target = key === "db" ? "db_path" : key;
    raw[target] = value;
    overrideKeys.add(target);
  }

  const report = (key: (string | number)[], message: string, hint?: string) => {
    const top = String(key[0] ?? "");
    const fromOverride = overrideKeys.has(top);
    const line = fromOverride ? undefined : lineOf(key);
    issues.push({
      path: fromOverride ? OVERRIDES_SOURCE : path,
      ...(line !== undefined && { line }),
      key: key.join("."),
      message,
      ...(hint !== undefined && { hint }),
    });
  };

  const parsed = configFileSchema.safeParse(raw);
  if (!parsed.success) {
    for (const zodIssue of parsed.error.issues) {
      const key = zodIssue.path.filter((p): p is string | number => typeof p !== "symbol");
      const { message, hint } = describeZodIssue(zodIssue, key, raw);
      report(key, message, hint);
    }
    throw new ConfigError(sortByLine(issues), warnings);
  }
  const config = resolveConfig(parsed.data, report, {
    readFile: (p) => fs.readFile(p),
    fromFile: file !== undefined,
  });
  if (issues.length > 0) throw new ConfigError(sortByLine(issues), warnings);
  return { config, warnings, sourcePath: file ? path : undefined };
}

interface ConfigFileContents {
  values: Record<string, unknown>;
  lineOf(key: (string | number)[]): number | undefined;
}

function readConfigFile(
  path: string,
  fs: ConfigFileSystem,
  issues: ConfigIssue[],
  required: boolean,
): ConfigFileContents | undefined {
  const mode = fs.statMode(path);
  if (mode === undefined) {
    if (required) {
      issues.push({
        path,
        message: "config file not found",
        hint: "create it (see docs/configuration.md) or pass --config <path>",
      });
      throw new ConfigError(issues);
    }
    return undefined;
  }
  const modeIssue = checkConfigFileMode(path, mode);
  if (modeIssue) issues.push(modeIssue);

  const lineCounter = new LineCounter();
  const doc = parseDocument(fs.readFile(path), { lineCounter, prettyErrors: false });
  for (const error of doc.errors) {
    const line = lineCounter.linePos(error.pos[0]).line;
    issues.push({ path, line, message: `YAML syntax error: ${error.message.split("\n")[0]}` });
  }
  if (doc.errors.length > 0) throw new ConfigError(issues);
  const contents = doc.contents;
  if (contents !== null && !isMap(contents)) {
    issues.push({
      path,
      line: 1,
      message: "the file must be a mapping of keys to values",
      hint: "write one `key: value` per line, e.g. data_dir: /var/lib/agentlab",
    });
    throw new ConfigError(issues);
  }
  const lineOf = (key: (string | number)[]): number | undefined => {
    let node: unknown = contents;
    let offset: number | undefined;
    for (const segment of key) {
      if (isMap(node)) {
        const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && p.key.value === segment);
        if (!pair) break;
        offset = (pair.key as Node).range?.[0] ?? offset;
        node = pair.value;
      } else if (isSeq(node) && typeof segment === "number") {
        node = node.items[segment];
        offset = (node as Node | undefined)?.range?.[0] ?? offset;
      } else {
        break;
      }
    }
    return offset === undefined ? undefined : lineCounter.linePos(offset).line;
  };
  const values = (doc.toJS() ?? {}) as Record<string, unknown>;
  return { values, lineOf };
}

/** File-level problems first, then in file order, as an editor would walk them. */
function sortByLine(issues: ConfigIssue[]): ConfigIssue[] {
  return [...issues].sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
}

type LineOf = (key: (string | number)[]) => number | undefined;

function withLine(issue: ConfigIssue, line: number | undefined): ConfigIssue {
  return line === undefined ? issue : { ...issue, line };
}

function checkUnknownKeys(raw: Record<string, unknown>, path: string, lineOf: LineOf, warnings: ConfigIssue[]): void {
  const known = new Set<string>(CONFIG_KEYS);
  const deprecated = new Set(DEPRECATED_KEYS.map((d) => d.key));
  for (const key of Object.keys(raw)) {
    if (known.has(key) || deprecated.has(key)) continue;
    const retired = RETIRED_KEYS[key];
    const suggestion = retired ? undefined : closestKey(key, CONFIG_KEYS);
    warnings.push(
      withLine(
        {
          path,
          key,
          message: retired ? `is no longer used: ${retired}` : "unknown key, ignored",
          ...(suggestion && { hint: `did you mean ${suggestion}?` }),
        },
        lineOf([key]),
      ),
    );
    delete raw[key];
  }
}

function applyDeprecations(
  raw: Record<string, unknown>,
  path: string,
  lineOf: LineOf,
  issues: ConfigIssue[],
  warnings: ConfigIssue[],
): void {
  for (const deprecated of DEPRECATED_KEYS) {
    if (!(deprecated.key in raw)) continue;
    const oldValue = raw[deprecated.key];
    delete raw[deprecated.key];
    const line = lineOf([deprecated.key]);
    const converted = deprecated.convert(oldValue);
    if ("error" in converted) {
      issues.push(withLine({ path, key: deprecated.key, message: converted.error }, line));
      continue;
    }
    const current = raw[deprecated.replacement];
    if (current !== undefined && current !== converted.value) {
      issues.push(
        withLine(
          {
            path,
            key: deprecated.key,
            message: `conflicts with ${deprecated.replacement}: ${deprecated.key} ${JSON.stringify(oldValue)} means ${JSON.stringify(converted.value)}, but ${deprecated.replacement} is ${JSON.stringify(current)}`,
            hint: `remove ${deprecated.key}; ${deprecated.replacement} replaces it`,
          },
          line,
        ),
      );
      continue;
    }
    raw[deprecated.replacement] = converted.value;
    warnings.push(
      withLine(
        {
          path,
          key: deprecated.key,
          message: `is deprecated; use ${deprecated.replacement} instead`,
          hint: `replace it with \`${deprecated.example(oldValue)}\``,
        },
        line,
      ),
    );
  }
}

function describeZodIssue(
  issue: z.core.$ZodIssue,
  key: (string | number)[],
  raw: Record<string, unknown>,
): { message: string; hint?: string } {
  let value: unknown = raw;
  for (const segment of key) value = (value as Record<string | number, unknown> | undefined)?.[segment];
  const shown = SECRET_KEY.test(String(key[0]))
    ? `<${String(value).length} characters, hidden>`
    : JSON.stringify(value);
  if (issue.code === "invalid_value") {
    return {
      message: `${shown} is not allowed`,
      hint: `allowed: ${issue.values.map((v) => JSON.stringify(v)).join(", ")}`,
    };
  }
  if (issue.code === "invalid_type" || issue.code === "invalid_union") {
    const expected = issue.code === "invalid_type" ? issue.expected : "a valid value";
    return { message: `${shown} is invalid: expected ${expected}`, hint: describeKey(key) };
  }
  const reason = issue.message.charAt(0).toLowerCase() + issue.message.slice(1);
  return { message: `${shown} is invalid: ${reason}`, hint: describeKey(key) };
}

/** The key's documented meaning, as a reminder of what it expects. */
function describeKey(key: (string | number)[]): string | undefined {
  const top = configFileSchema.shape[key[0] as keyof typeof configFileSchema.shape];
  return top?.description;
}
