import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { LineCounter, parseAllDocuments } from "yaml";
import { formatPosition, type ProfileDiagnostic, type SourcePosition } from "./profile-diagnostic.js";
import { validateProfileDocument } from "./profile-document-validator.js";
import type { Profile } from "./profile-schema.js";

/** The filesystem calls the loader makes, injected so tests can fake failures. */
export interface ProfileFileSystem {
  /** Entry names (not paths) of a directory. */
  readDirectory(directory: string): Promise<string[]>;
  readText(path: string): Promise<string>;
  stat(path: string): Promise<{ isFile(): boolean; mtime: Date }>;
}

export const nodeProfileFileSystem: ProfileFileSystem = {
  readDirectory: (directory) => readdir(directory),
  readText: (path) => readFile(path, "utf8"),
  stat: (path) => stat(path),
};

interface ProfileDocumentOrigin {
  source: SourcePosition;
  /** 0-based position of the document in its file. */
  documentIndex: number;
  /**
   * This document's own YAML (from its `---` to the next one), not the whole file: upstream stored
   * the whole file for every document, so later documents were provisioned with the first one's
   * resources (agentlab-reference.md §11).
   */
  yamlText: string;
  fileModifiedAt: Date;
}

export interface LoadedProfile extends ProfileDocumentOrigin {
  name: string;
  profile: Profile;
  warnings: ProfileDiagnostic[];
}

export interface RejectedProfileDocument extends ProfileDocumentOrigin {
  /** The name the document declares, if a string one can be read. */
  name: string | undefined;
  errors: ProfileDiagnostic[];
  warnings: ProfileDiagnostic[];
}

export interface ProfileLoadResult {
  directory: string;
  /** Usable profiles, unique by name, in file order then document order. */
  profiles: LoadedProfile[];
  /** Documents that cannot be used, each with its errors. */
  rejected: RejectedProfileDocument[];
  /** Problems not tied to one document: an unreadable directory or file, a file with no documents. */
  fileProblems: ProfileDiagnostic[];
  /** Profile files found (full paths, sorted). */
  files: string[];
  /** Files that could not be read at all; whatever they held before is unknown now. */
  unreadableFiles: string[];
  directoryReadable: boolean;
}

export interface LoadProfileDirectoryOptions {
  fileSystem?: ProfileFileSystem;
}

const PROFILE_FILE_PATTERN = /\.ya?ml$/;

/**
 * Reads every `*.yaml`/`*.yml` file directly in `directory` (sorted by name, not recursive; names
 * starting with `.` are skipped because editors leave lock and backup files there), validates every
 * document on its own, and settles duplicate names: the first definition wins, later ones are
 * rejected. Never throws for bad content: problems come back as diagnostics.
 */
export async function loadProfileDirectory(
  directory: string,
  options: LoadProfileDirectoryOptions = {},
): Promise<ProfileLoadResult> {
  const fileSystem = options.fileSystem ?? nodeProfileFileSystem;
  const result: ProfileLoadResult = {
    directory,
    profiles: [],
    rejected: [],
    fileProblems: [],
    files: [],
    unreadableFiles: [],
    directoryReadable: true,
  };

  let entries: string[];
  try {
    entries = await fileSystem.readDirectory(directory);
  } catch (error) {
    result.directoryReadable = false;
    result.fileProblems.push(
      fileProblem(
        directory,
        `cannot read the profiles directory: ${reason(error)}`,
        "check profiles_dir in the config and the directory's permissions",
      ),
    );
    return result;
  }

  const candidates = entries
    .filter((entry) => PROFILE_FILE_PATTERN.test(entry) && !entry.startsWith("."))
    .sort(byCodeUnits);
  const documents: (LoadedProfile | RejectedProfileDocument)[] = [];
  for (const entry of candidates) {
    const file = join(directory, entry);
    let text: string;
    let fileModifiedAt: Date;
    try {
      const info = await fileSystem.stat(file);
      if (!info.isFile()) continue;
      fileModifiedAt = info.mtime;
      text = await fileSystem.readText(file);
    } catch (error) {
      result.files.push(file);
      result.unreadableFiles.push(file);
      result.fileProblems.push(
        fileProblem(file, `cannot read the profile file: ${reason(error)}`, "check the file's permissions"),
      );
      continue;
    }
    result.files.push(file);
    const parsed = parseProfileFile(file, text, fileModifiedAt);
    if (parsed.length === 0) {
      result.fileProblems.push({
        ...fileProblem(file, "the file holds no profile documents", "add a profile or remove the file"),
        severity: "warning",
      });
    }
    documents.push(...parsed);
  }

  settleDuplicateNames(documents);
  for (const document of documents) {
    if ("profile" in document) result.profiles.push(document);
    else result.rejected.push(document);
  }
  return result;
}

/** Every `---` document of one file, validated on its own. */
export function parseProfileFile(
  file: string,
  text: string,
  fileModifiedAt: Date,
): (LoadedProfile | RejectedProfileDocument)[] {
  const lineCounter = new LineCounter();
  const documents = parseAllDocuments(text, { lineCounter, prettyErrors: true });
  // `parseAllDocuments` returns an EmptyStream (not an array) for a file with no documents.
  if (!Array.isArray(documents)) return [];
  return documents.map((document, documentIndex) => {
    const begin = documentIndex === 0 ? 0 : (document.range?.[0] ?? 0);
    const end = documents[documentIndex + 1]?.range?.[0] ?? text.length;
    const origin = { documentIndex, yamlText: text.slice(begin, end), fileModifiedAt };
    const verdict = validateProfileDocument({ document, lineCounter, file });
    if (verdict.valid) {
      return {
        ...origin,
        source: verdict.source,
        name: verdict.name,
        profile: verdict.profile,
        warnings: verdict.warnings,
      };
    }
    return {
      ...origin,
      source: verdict.source,
      name: verdict.name,
      errors: verdict.errors,
      warnings: verdict.warnings,
    };
  });
}

/**
 * A name belongs to its first definition (file order, then document order), valid or not: letting a
 * later copy take over when the first breaks would silently change what the name provisions.
 */
function settleDuplicateNames(documents: (LoadedProfile | RejectedProfileDocument)[]): void {
  const owners = new Map<string, LoadedProfile | RejectedProfileDocument>();
  documents.forEach((document, index) => {
    if (document.name === undefined) return;
    const owner = owners.get(document.name);
    if (!owner) {
      owners.set(document.name, document);
      return;
    }
    const duplicate: ProfileDiagnostic = {
      severity: "error",
      ...document.source,
      key: "name",
      message: `profile "${document.name}" is already defined at ${formatPosition(owner.source)}; this definition at ${formatPosition(document.source)} is ignored`,
      value: document.name,
      hint: "rename one of the two or delete one",
    };
    owner.warnings.push({
      ...duplicate,
      severity: "warning",
      ...owner.source,
      message: `profile "${document.name}" is defined again at ${formatPosition(document.source)}; that later definition is ignored and this one (${formatPosition(owner.source)}) is used`,
    });
    if ("profile" in document) {
      const { profile: _unused, ...rest } = document;
      documents[index] = { ...rest, errors: [duplicate] };
    } else {
      document.errors.push(duplicate);
    }
  });
}

function fileProblem(file: string, message: string, hint: string): ProfileDiagnostic {
  return { severity: "error", file, line: 0, column: 0, key: "", message, hint };
}

function reason(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function byCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
