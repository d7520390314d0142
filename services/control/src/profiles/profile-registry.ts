import { formatDiagnostic, type ProfileDiagnostic, type SourcePosition } from "./profile-diagnostic.js";
import { ProfileInvalidError, ProfileNotFoundError } from "./profile-errors.js";
import {
  type LoadedProfile,
  loadProfileDirectory,
  type ProfileFileSystem,
  type ProfileLoadResult,
  type RejectedProfileDocument,
} from "./profile-loader.js";

/**
 * - `ok`: the current file defines it and it is valid.
 * - `stale`: the current definition is broken, the last good version is still served (`profile`).
 * - `invalid`: no usable version; `errors` says why.
 */
export type ProfileStatus = "ok" | "stale" | "invalid";

export interface ProfileListEntry {
  /** The profile name; for a document with no readable name, `<file>#<document number>`. */
  name: string;
  /** The usable version (current for ok, last good for stale); absent when invalid. */
  profile?: LoadedProfile;
  /** Where the current definition is (for stale: the broken one, which is what needs fixing). */
  source: SourcePosition;
  status: ProfileStatus;
  errors: ProfileDiagnostic[];
  warnings: ProfileDiagnostic[];
}

export interface ProfileRegistryChange {
  generation: number;
  added: string[];
  removed: string[];
  /** Names whose usable version or status changed. */
  changed: string[];
}

export type ProfileChangeListener = (change: ProfileRegistryChange) => void;

export interface ProfileRegistryLogger {
  warn(message: string): void;
  error(message: string): void;
}

export interface ProfileRegistryOptions {
  profilesDir: string;
  fileSystem?: ProfileFileSystem;
  logger?: ProfileRegistryLogger;
  now?: () => Date;
}

interface RegistryState {
  generation: number;
  loadedAt: Date | undefined;
  entries: ProfileListEntry[];
  /** Usable profile by name (ok or stale). */
  usable: Map<string, LoadedProfile>;
  /** Every name with an entry, to tell "invalid" from "not found". */
  byName: Map<string, ProfileListEntry>;
  fileProblems: ProfileDiagnostic[];
}

/**
 * The profiles control serves. `reload()` builds the complete new set from disk first and swaps it in
 * with one assignment, so a concurrent `get` sees either the old set or the new one, never a mix. A
 * profile whose definition broke keeps its last good version (status `stale`) with the new errors
 * shown beside it; a profile whose document is gone disappears. SIGHUP and `ReloadProfiles` call
 * `reload()`; wiring them is the daemon's job.
 */
export class ProfileRegistry {
  private state: RegistryState = emptyState();
  private readonly listeners = new Set<ProfileChangeListener>();
  private pending: Promise<unknown> = Promise.resolve();
  private readonly now: () => Date;

  constructor(private readonly options: ProfileRegistryOptions) {
    this.now = options.now ?? (() => new Date());
  }

  /** The first load, at start. Same rules as `reload()`: there is simply nothing old to keep. */
  load(): Promise<ProfileRegistryChange> {
    return this.reload();
  }

  /** Re-reads profiles_dir. Reloads run one after another, never interleaved. */
  reload(): Promise<ProfileRegistryChange> {
    const run = this.pending.then(() => this.reloadNow());
    this.pending = run.catch(() => undefined);
    return run;
  }

  /** Increments on every load or reload, whether or not anything changed. */
  get generation(): number {
    return this.state.generation;
  }

  get loadedAt(): Date | undefined {
    return this.state.loadedAt;
  }

  /** Every profile and every broken document, sorted by name, for `ListProfiles`. */
  list(): ProfileListEntry[] {
    return [...this.state.entries];
  }

  /** Directory- and file-level problems of the last load (unreadable directory, empty files). */
  fileProblems(): ProfileDiagnostic[] {
    return [...this.state.fileProblems];
  }

  /** The usable version of a profile (ok, or stale's last good); throws a typed error otherwise. */
  get(name: string): LoadedProfile {
    const usable = this.state.usable.get(name);
    if (usable) return usable;
    const entry = this.state.byName.get(name);
    if (entry) throw new ProfileInvalidError(name, entry.errors);
    throw new ProfileNotFoundError(name, [...this.state.usable.keys()].sort());
  }

  /** Like `get` but `undefined` instead of throwing. */
  find(name: string): LoadedProfile | undefined {
    return this.state.usable.get(name);
  }

  /** Called after every load/reload; returns the unsubscribe function. */
  onChange(listener: ProfileChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private async reloadNow(): Promise<ProfileRegistryChange> {
    const loaded = await loadProfileDirectory(this.options.profilesDir, { fileSystem: this.options.fileSystem });
    const previous = this.state;
    const next = buildState(loaded, previous, this.now());
    this.state = next;

    const change = diffStates(previous, next);
    this.report(next);
    for (const listener of this.listeners) listener(change);
    return change;
  }

  private report(state: RegistryState): void {
    const logger = this.options.logger;
    if (!logger) return;
    for (const problem of state.fileProblems) {
      (problem.severity === "error" ? logger.error : logger.warn).call(logger, formatDiagnostic(problem));
    }
    for (const entry of state.entries) {
      for (const error of entry.errors) {
        const note = entry.status === "stale" ? " (still serving the last good version)" : "";
        logger.error(formatDiagnostic(error) + note);
      }
      for (const warning of entry.warnings) logger.warn(formatDiagnostic(warning));
    }
  }
}

function emptyState(): RegistryState {
  return { generation: 0, loadedAt: undefined, entries: [], usable: new Map(), byName: new Map(), fileProblems: [] };
}

function buildState(loaded: ProfileLoadResult, previous: RegistryState, loadedAt: Date): RegistryState {
  const entries: ProfileListEntry[] = [];
  const usable = new Map<string, LoadedProfile>();
  const byName = new Map<string, ProfileListEntry>();

  for (const profile of loaded.profiles) {
    const entry: ProfileListEntry = {
      name: profile.name,
      profile,
      source: profile.source,
      status: "ok",
      errors: [],
      warnings: profile.warnings,
    };
    entries.push(entry);
    usable.set(profile.name, profile);
    byName.set(profile.name, entry);
  }

  const rejectedNamed = new Map<string, RejectedProfileDocument>();
  for (const document of loaded.rejected) {
    const isOwner = document.name !== undefined && !byName.has(document.name) && !rejectedNamed.has(document.name);
    if (document.name !== undefined && isOwner) rejectedNamed.set(document.name, document);
    const lastGood = isOwner && document.name !== undefined ? previous.usable.get(document.name) : undefined;
    const entry: ProfileListEntry = {
      name: document.name ?? `${document.source.file}#${document.documentIndex + 1}`,
      source: document.source,
      status: lastGood ? "stale" : "invalid",
      errors: document.errors,
      warnings: document.warnings,
    };
    if (lastGood) {
      entry.profile = lastGood;
      usable.set(lastGood.name, lastGood);
    }
    entries.push(entry);
    if (isOwner && document.name !== undefined) byName.set(document.name, entry);
  }

  // A previous profile that no current document names: gone, unless its file is broken in a way
  // that hides names (unreadable file or directory, a document whose name cannot be read) — then we
  // cannot tell "removed" from "broken", and keeping the last good version is the safe answer.
  for (const [name, lastGood] of previous.usable) {
    if (byName.has(name)) continue;
    const hiddenBy = namesHiddenIn(loaded, lastGood.source.file);
    if (hiddenBy.length === 0) continue;
    const entry: ProfileListEntry = {
      name,
      profile: lastGood,
      source: lastGood.source,
      status: "stale",
      errors: hiddenBy,
      warnings: [],
    };
    entries.push(entry);
    usable.set(name, lastGood);
    byName.set(name, entry);
  }

  entries.sort(
    (a, b) => compare(a.name, b.name) || compare(a.source.file, b.source.file) || a.source.line - b.source.line,
  );
  return {
    generation: previous.generation + 1,
    loadedAt,
    entries,
    usable,
    byName,
    fileProblems: loaded.fileProblems,
  };
}

/** The errors that make a file's profile names unreadable this time, if any. */
function namesHiddenIn(loaded: ProfileLoadResult, file: string): ProfileDiagnostic[] {
  if (!loaded.directoryReadable) return loaded.fileProblems.filter((problem) => problem.severity === "error");
  if (loaded.unreadableFiles.includes(file)) return loaded.fileProblems.filter((problem) => problem.file === file);
  return loaded.rejected
    .filter((document) => document.source.file === file && document.name === undefined)
    .flatMap((document) => document.errors);
}

function diffStates(previous: RegistryState, next: RegistryState): ProfileRegistryChange {
  const added: string[] = [];
  const removed: string[] = [];
  const changed: string[] = [];
  for (const [name, entry] of next.byName) {
    const before = previous.byName.get(name);
    if (!before) added.push(name);
    else if (before.status !== entry.status || before.profile !== entry.profile) {
      if (before.profile?.yamlText !== entry.profile?.yamlText || before.status !== entry.status) changed.push(name);
    }
  }
  for (const name of previous.byName.keys()) if (!next.byName.has(name)) removed.push(name);
  return { generation: next.generation, added: added.sort(), removed: removed.sort(), changed: changed.sort() };
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
