import type { Document, LineCounter } from "yaml";
import type { z } from "zod";
import { findHostMountKeys, isPlainMapping } from "./host-mount-check.js";
import { migrateLegacyKeys } from "./legacy-key-migration.js";
import {
  type DocumentFinding,
  formatKeyPath,
  type KeyPath,
  type ProfileDiagnostic,
  type SourcePosition,
} from "./profile-diagnostic.js";
import { PROFILE_BACKENDS, type Profile, type ProfileBackend, profileSchema } from "./profile-schema.js";
import { checkUnknownKeys } from "./unknown-key-check.js";
import { YamlKeyLocator } from "./yaml-key-locator.js";

export interface ProfileDocumentInput {
  document: Document;
  /** Shared by every document of the file, so positions are file positions. */
  lineCounter: LineCounter;
  file: string;
}

interface DocumentVerdictBase {
  /** The `name` the document declares, when it declares a string one (even if the rest is invalid). */
  name: string | undefined;
  /** Where the document's content starts. */
  source: SourcePosition;
  warnings: ProfileDiagnostic[];
}

export type ValidProfileDocument = DocumentVerdictBase & { valid: true; name: string; profile: Profile };
export type InvalidProfileDocument = DocumentVerdictBase & { valid: false; errors: ProfileDiagnostic[] };
export type ProfileDocumentVerdict = ValidProfileDocument | InvalidProfileDocument;

/**
 * Validates one YAML document as one profile, in the order an operator would want to hear about
 * problems: YAML syntax, empty document, host mounts (a security refusal), legacy names, unknown
 * keys, then the schema. Every finding is placed at its key's line and column.
 */
export function validateProfileDocument(input: ProfileDocumentInput): ProfileDocumentVerdict {
  const locator = new YamlKeyLocator(input.document, input.lineCounter);
  const start = locator.documentStart();
  const source: SourcePosition = { file: input.file, line: start.line, column: start.column };
  const findings: DocumentFinding[] = [];
  const place = (finding: DocumentFinding, writtenAt?: Map<string, KeyPath>): ProfileDiagnostic => {
    const shownPath = writtenAt?.get(formatKeyPath(finding.path)) ?? finding.path;
    const position = locator.locate(shownPath);
    const diagnostic: ProfileDiagnostic = {
      severity: finding.severity,
      file: input.file,
      line: position.line,
      column: position.column,
      key: formatKeyPath(shownPath),
      message: finding.message,
    };
    if (finding.value !== undefined) diagnostic.value = finding.value;
    if (finding.hint !== undefined) diagnostic.hint = finding.hint;
    return diagnostic;
  };
  const verdict = (name: string | undefined, writtenAt?: Map<string, KeyPath>): InvalidProfileDocument => {
    // In file order, as an operator reads the file; the sort is stable for findings on one key.
    const placed = findings
      .map((finding) => place(finding, writtenAt))
      .sort((a, b) => a.line - b.line || a.column - b.column);
    return {
      valid: false,
      name,
      source,
      errors: placed.filter((d) => d.severity === "error"),
      warnings: placed.filter((d) => d.severity === "warning"),
    };
  };

  const syntaxDiagnostics = [...input.document.errors, ...input.document.warnings].map(
    (problem): ProfileDiagnostic => ({
      severity: problem.name === "YAMLWarning" ? "warning" : "error",
      file: input.file,
      line: problem.linePos?.[0].line ?? start.line,
      column: problem.linePos?.[0].col ?? start.column,
      key: "",
      message: `YAML: ${problem.message.split("\n")[0]}`,
      hint: "fix the YAML syntax at this position",
    }),
  );
  const raw = readDocument(input.document);
  const declaredName = isPlainMapping(raw) && typeof raw.name === "string" ? raw.name : undefined;
  if (input.document.errors.length > 0) {
    return {
      valid: false,
      name: declaredName,
      source,
      errors: syntaxDiagnostics.filter((d) => d.severity === "error"),
      warnings: syntaxDiagnostics.filter((d) => d.severity === "warning"),
    };
  }
  const withSyntaxWarnings = (result: ProfileDocumentVerdict): ProfileDocumentVerdict => ({
    ...result,
    warnings: [...syntaxDiagnostics, ...result.warnings],
  });

  if (raw === null || raw === undefined) {
    findings.push({
      severity: "error",
      path: [],
      message: "the document is empty",
      hint: "remove the extra `---` separator, or write a profile (at least name and, for proxmox, template_vmid)",
    });
    return withSyntaxWarnings(verdict(undefined));
  }
  if (!isPlainMapping(raw)) {
    findings.push({
      severity: "error",
      path: [],
      message: "a profile must be a mapping of keys (name: ..., template_vmid: ...)",
      value: raw,
    });
    return withSyntaxWarnings(verdict(undefined));
  }

  const hostMounts = findHostMountKeys(raw);
  if (hostMounts.length > 0) {
    const listed = hostMounts.map((path) => `${formatKeyPath(path)} (line ${locator.locate(path).line})`).join(", ");
    findings.push({
      severity: "error",
      path: hostMounts[0]!,
      message: `host mounts are not allowed in a sandbox profile; found ${listed}`,
      hint: "remove these keys; give the agent files through the repository or a secrets bundle instead",
    });
  }

  const legacy = migrateLegacyKeys(raw);
  findings.push(...legacy.findings);

  const backend = legacy.migrated.backend ?? "proxmox";
  if (!PROFILE_BACKENDS.includes(backend as ProfileBackend)) {
    findings.push({
      severity: "error",
      path: ["backend"],
      message: `must be one of ${PROFILE_BACKENDS.join(", ")}`,
      value: backend,
      hint: "omit it for proxmox",
    });
    return withSyntaxWarnings(verdict(declaredName, legacy.writtenAt));
  }
  legacy.migrated.backend = backend;

  const unknown = checkUnknownKeys(legacy.migrated, backend as ProfileBackend);
  findings.push(...unknown.findings);
  findings.push(...retentionOverlap(unknown.known));

  const parsed = profileSchema.safeParse(unknown.known);
  if (!parsed.success) findings.push(...parsed.error.issues.map((issue) => issueFinding(issue, unknown.known)));

  const result = verdict(declaredName, legacy.writtenAt);
  if (!parsed.success || result.errors.length > 0) return withSyntaxWarnings(result);
  return withSyntaxWarnings({
    valid: true,
    name: parsed.data.name,
    profile: parsed.data,
    source,
    warnings: result.warnings,
  });
}

function readDocument(document: Document): unknown {
  try {
    return document.toJS({ maxAliasCount: 100 });
  } catch {
    return undefined;
  }
}

function issueFinding(issue: z.core.$ZodIssue, document: Record<string, unknown>): DocumentFinding {
  const path = issue.path.map((segment) => (typeof segment === "number" ? segment : String(segment)));
  const finding: DocumentFinding = { severity: "error", path, message: issue.message };
  const value = valueAt(document, path);
  if (value !== undefined && typeof value !== "object") finding.value = value;
  return finding;
}

function valueAt(root: unknown, path: KeyPath): unknown {
  let node = root;
  for (const segment of path) {
    if (node === null || typeof node !== "object") return undefined;
    node = (node as Record<string | number, unknown>)[segment];
  }
  return node;
}

/** Several retention keys at once: the first (minutes, hours, days) wins; say which ones are ignored. */
function retentionOverlap(document: Record<string, unknown>): DocumentFinding[] {
  const artifacts = document.artifacts;
  if (!isPlainMapping(artifacts)) return [];
  const present = ["retention_minutes", "retention_hours", "retention_days"].filter(
    (key) => artifacts[key] !== undefined,
  );
  return present.slice(1).map((key) => ({
    severity: "warning" as const,
    path: ["artifacts", key],
    message: `is ignored because artifacts.${present[0]} is also set (minutes win over hours over days)`,
    hint: "keep one retention key",
  }));
}
