import { createReadStream, createWriteStream } from "node:fs";
import { stat } from "node:fs/promises";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";

/** One file to put in the archive. */
export interface TarEntry {
  /** Name inside the archive (ASCII, at most 100 bytes). */
  name: string;
  /** File to read the content from. */
  source: string;
}

const BLOCK = 512;

function octal(value: number, width: number): string {
  // width includes the terminating NUL.
  return `${value.toString(8).padStart(width - 1, "0")}\0`;
}

/** A POSIX ustar header for a regular file. */
export function tarHeader(name: string, size: number, mtimeSeconds: number, mode = 0o644): Buffer {
  if (Buffer.byteLength(name) > 100) throw new Error(`tar entry name too long: ${name}`);
  const header = Buffer.alloc(BLOCK, 0);
  header.write(name, 0, 100, "utf8");
  header.write(octal(mode, 8), 100, 8, "ascii");
  header.write(octal(0, 8), 108, 8, "ascii"); // uid
  header.write(octal(0, 8), 116, 8, "ascii"); // gid
  header.write(octal(size, 12), 124, 12, "ascii");
  header.write(octal(Math.floor(mtimeSeconds), 12), 136, 12, "ascii");
  header.write("        ", 148, 8, "ascii"); // checksum placeholder: spaces while summing
  header.write("0", 156, 1, "ascii"); // regular file
  header.write("ustar\0", 257, 6, "ascii");
  header.write("00", 263, 2, "ascii");
  header.write("agent", 265, 32, "ascii"); // uname
  header.write("agent", 297, 32, "ascii"); // gname
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, 8, "ascii");
  return header;
}

async function* tarStream(entries: { name: string; source: string; size: number; mtime: number }[]) {
  for (const entry of entries) {
    yield tarHeader(entry.name, entry.size, entry.mtime);
    let written = 0;
    for await (const chunk of createReadStream(entry.source)) {
      const buffer = chunk as Buffer;
      // Never write more than the header promised, even if the file grew meanwhile.
      const slice = buffer.subarray(0, Math.max(0, entry.size - written));
      written += slice.length;
      if (slice.length > 0) yield slice;
    }
    // A file that shrank meanwhile is padded with zeros to the promised size.
    if (written < entry.size) yield Buffer.alloc(entry.size - written, 0);
    const padding = (BLOCK - (entry.size % BLOCK)) % BLOCK;
    if (padding > 0) yield Buffer.alloc(padding, 0);
  }
  // The end of an archive is two empty blocks.
  yield Buffer.alloc(BLOCK * 2, 0);
}

/**
 * Writes a gzip-compressed tar of the given files. Written here rather than by `tar`, which minimal
 * guests may lack, and rather than by an npm package, since the guest bundles nothing else.
 */
export async function writeTarGz(target: string, entries: TarEntry[]): Promise<void> {
  const described = await Promise.all(
    entries.map(async (entry) => {
      const info = await stat(entry.source);
      return { name: entry.name, source: entry.source, size: info.size, mtime: info.mtimeMs / 1000 };
    }),
  );
  await pipeline(tarStream(described), createGzip(), createWriteStream(target, { mode: 0o600 }));
}
