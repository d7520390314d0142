import { randomBytes } from "node:crypto";
import { constants, promises as fsp } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import { join, sep } from "node:path";
import { NotFoundError, PermissionDeniedError } from "@agentlab/core/errors";
import { baseName } from "./path-sanitizer.js";

/** Temporary upload files: `.upload-<hex>.tmp`, always in the directory the file will end up in. */
export const TEMP_FILE_PATTERN = /^\.upload-[0-9a-f]{16,64}\.tmp$/;
const DIR_MODE = 0o750;
const FILE_MODE = 0o640;
/** Chunks are gathered into reused buffers of this size (two per upload) and written together. */
const WRITE_BATCH_BYTES = 1024 * 1024;

export interface ArtifactStoreOptions {
  /** artifact_dir; created (mode 0750) when missing. */
  root: string;
  /** Random lower-case hex of `bytes` bytes; injectable so tests can predict names. */
  randomHex?: (bytes: number) => string;
}

/**
 * Files under artifact_dir. Every path handed in is already sanitised; this layer additionally
 * refuses to pass through a symbolic link (a link planted inside a job folder must never redirect a
 * write or a read outside the root) and makes writes atomic: temp file in the target directory,
 * fsync, rename, fsync of the directory.
 */
export class ArtifactStore {
  private constructor(
    /** The root with symlinks resolved, so containment checks compare like with like. */
    readonly root: string,
    private readonly randomHex: (bytes: number) => string,
  ) {}

  static async open(options: ArtifactStoreOptions): Promise<ArtifactStore> {
    await fsp.mkdir(options.root, { recursive: true, mode: DIR_MODE });
    const root = await fsp.realpath(options.root);
    return new ArtifactStore(root, options.randomHex ?? ((bytes) => randomBytes(bytes).toString("hex")));
  }

  /**
   * Opens a temp file for `<jobId>/<path>`. The stored name gets a random suffix so that two uploads
   * of one path are both kept and distinguishable (the latest wins on download).
   */
  async stage(jobId: string, path: string): Promise<StagedFile> {
    const segments = [jobId, ...path.split("/")];
    const dir = await this.resolveDir(segments.slice(0, -1), true);
    if (dir === undefined) throw new Error("unreachable: directories are created");
    const suffix = this.randomHex(8);
    const finalName = `${baseName(path)}.${suffix}`;
    const tempName = `.upload-${this.randomHex(8)}.tmp`;
    const handle = await fsp.open(
      join(dir, tempName),
      constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
      FILE_MODE,
    );
    return new StagedFile(handle, dir, tempName, finalName, `${jobId}/${path}.${suffix}`);
  }

  /** Opens a stored file for reading without following a symlink anywhere below the root. */
  async openForRead(storedPath: string): Promise<{ handle: FileHandle; size: number }> {
    const segments = storedPath.split("/");
    const dir = await this.resolveDir(segments.slice(0, -1), false);
    if (dir === undefined) throw missingFile(storedPath);
    let handle: FileHandle;
    try {
      handle = await fsp.open(join(dir, segments.at(-1) ?? ""), constants.O_RDONLY | constants.O_NOFOLLOW);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ENOENT") throw missingFile(storedPath);
      if (code === "ELOOP") throw symlinkRefused(storedPath);
      throw err;
    }
    const stats = await handle.stat();
    if (!stats.isFile()) {
      await handle.close();
      throw missingFile(storedPath);
    }
    return { handle, size: stats.size };
  }

  /** Removes one stored file; returns the bytes freed (0 when it was already gone). */
  async remove(storedPath: string): Promise<number> {
    const segments = storedPath.split("/");
    const dir = await this.resolveDir(segments.slice(0, -1), false);
    if (dir === undefined) return 0;
    const file = join(dir, segments.at(-1) ?? "");
    let size: number;
    try {
      const stats = await fsp.lstat(file);
      if (stats.isDirectory())
        throw new PermissionDeniedError({
          message: "stored path is a directory",
          what: "stored_path",
          value: storedPath,
          hint: "name the file, not its folder",
        });
      // A symlink is unlinked itself; its target is never touched and not counted.
      size = stats.isFile() ? stats.size : 0;
      await fsp.unlink(file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return 0;
      throw err;
    }
    return size;
  }

  /** Removes the now-empty folders of a stored path, up to and including its job folder. */
  async removeEmptyDirs(storedPath: string): Promise<void> {
    const segments = storedPath.split("/").slice(0, -1);
    for (let depth = segments.length; depth > 0; depth--) {
      try {
        await fsp.rmdir(join(this.root, ...segments.slice(0, depth)));
      } catch {
        // Not empty, already gone, or a link: either way nothing more to tidy above it.
        return;
      }
    }
  }

  /**
   * Walks `segments` below the root one folder at a time, optionally creating them, refusing any
   * that is a symlink or not a folder, and finally checks the real path is still under the root.
   * Returns undefined when a folder is missing and `create` is false.
   */
  private async resolveDir(segments: string[], create: boolean): Promise<string | undefined> {
    let current = this.root;
    for (const segment of segments) {
      current = join(current, segment);
      if (create) {
        try {
          await fsp.mkdir(current, { mode: DIR_MODE });
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
        }
      }
      let stats: Awaited<ReturnType<typeof fsp.lstat>>;
      try {
        stats = await fsp.lstat(current);
      } catch (err) {
        if (!create && (err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
        throw err;
      }
      if (stats.isSymbolicLink()) throw symlinkRefused(segments.join("/"));
      if (!stats.isDirectory()) {
        throw new PermissionDeniedError({
          message: "a folder of the artifact path is a file",
          what: "path",
          value: segments.join("/"),
          hint: "upload under another path; an earlier upload may use this name for a file",
        });
      }
    }
    const real = await fsp.realpath(current);
    if (real !== this.root && !real.startsWith(this.root + sep)) throw symlinkRefused(segments.join("/"));
    return current;
  }
}

/** One upload being written. Exactly one of commit() or discard() ends it. */
export class StagedFile {
  /**
   * Chunks are copied into one of two buffers, reused for the whole upload, and a full one is
   * written while the other fills. Holding the received chunks themselves until a batch was written
   * (as a writev list) kept each one alive across GC cycles, so V8 promoted them to the old
   * generation where only a mark-compact frees them: garbage buffers piled up to tens of MiB of RSS
   * per upload. A copied chunk is dead as soon as write() returns and goes with the next scavenge;
   * the memcpy costs far less than the hashing.
   *
   * Two buffers rather than one so that the sender is not stopped for every disk write: with one,
   * the receive loop waited for each 1 MiB write, the transport's buffers filled meanwhile and the
   * next read took them all at once (a further copy of up to a whole flow-control window).
   */
  private filling: Buffer | undefined;
  private spare: Buffer | undefined;
  private filled = 0;
  /** The write of the other buffer; at most one is in flight, so the file is written in order. */
  private writing: Promise<void> | undefined;
  private closed = false;
  private renamed = false;

  constructor(
    private readonly handle: FileHandle,
    /** Absolute folder the file lands in. */
    readonly dir: string,
    readonly tempName: string,
    readonly finalName: string,
    /** Path relative to artifact_dir after commit, as recorded with control. */
    readonly storedPath: string,
  ) {}

  /**
   * Copies a chunk in; resolves once the sender may go on. A full buffer waits only for the
   * previous write, so the sender is paced to the disk (backpressure) with one write of lead.
   */
  async write(chunk: Uint8Array): Promise<void> {
    let offset = 0;
    while (offset < chunk.byteLength) {
      this.filling ??= Buffer.allocUnsafe(WRITE_BATCH_BYTES);
      const count = Math.min(chunk.byteLength - offset, this.filling.byteLength - this.filled);
      this.filling.set(chunk.subarray(offset, offset + count), this.filled);
      this.filled += count;
      offset += count;
      if (this.filled === this.filling.byteLength) await this.startWrite();
    }
  }

  /** Makes the bytes durable and visible under the final name; returns the stored path. */
  async commit(): Promise<string> {
    await this.startWrite();
    await this.writing;
    this.filling = undefined;
    this.spare = undefined;
    await this.handle.sync();
    this.closed = true;
    await this.handle.close();
    await fsp.rename(join(this.dir, this.tempName), join(this.dir, this.finalName));
    this.renamed = true;
    await syncDir(this.dir);
    return this.storedPath;
  }

  /** Removes whatever was written; safe to call after a failed commit. */
  async discard(): Promise<void> {
    // A write still in flight must end before the handle closes; its failure no longer matters.
    await this.writing?.catch(() => undefined);
    this.filling = undefined;
    this.spare = undefined;
    this.filled = 0;
    if (!this.closed) {
      this.closed = true;
      await this.handle.close().catch(() => undefined);
    }
    const name = this.renamed ? this.finalName : this.tempName;
    await fsp.unlink(join(this.dir, name)).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== "ENOENT") throw err;
    });
    await syncDir(this.dir).catch(() => undefined);
  }

  /** Waits for the previous write (its buffer becomes the spare), then writes the filled buffer. */
  private async startWrite(): Promise<void> {
    await this.writing;
    const batch = this.filling;
    const length = this.filled;
    if (!batch || length === 0) return;
    this.filling = this.spare;
    this.spare = batch;
    this.filled = 0;
    const writing = this.writeAll(batch, length);
    // Observed here so that an upload failing before the next await does not leave the rejection
    // unhandled; whoever awaits `writing` next still gets the error.
    writing.catch(() => undefined);
    this.writing = writing;
  }

  private async writeAll(batch: Buffer, length: number): Promise<void> {
    let written = 0;
    while (written < length) {
      const { bytesWritten } = await this.handle.write(batch, written, length - written);
      written += bytesWritten;
    }
  }
}

/** fsync of a folder makes a rename or unlink in it survive a crash. */
export async function syncDir(dir: string): Promise<void> {
  const handle = await fsp.open(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function missingFile(storedPath: string): NotFoundError {
  return new NotFoundError({
    message: "the artifact's file is missing from artifact_dir",
    what: "stored_path",
    value: storedPath,
    hint: "it may have been removed by retention; list the job's artifacts again",
  });
}

function symlinkRefused(path: string): PermissionDeniedError {
  return new PermissionDeniedError({
    message: "artifact path passes through a symbolic link or leaves artifact_dir; refusing to follow it",
    what: "path",
    value: path,
    hint: "remove the link from artifact_dir; nothing under it may be a symlink",
  });
}
