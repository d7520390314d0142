import { createCipheriv, createHash } from "node:crypto";

const ZEROS = Buffer.alloc(1024 * 1024);

/**
 * Deterministic pseudo-random content of any length without holding it: AES-128-CTR over zeros,
 * keyed by the seed. Same seed and length, same bytes.
 */
export async function* seededBytes(seed: number, totalBytes: number, chunkBytes = 64 * 1024): AsyncGenerator<Buffer> {
  const key = createHash("sha256").update(`seed:${seed}`).digest().subarray(0, 16);
  const cipher = createCipheriv("aes-128-ctr", key, Buffer.alloc(16));
  let left = totalBytes;
  while (left > 0) {
    const size = Math.min(chunkBytes, left, ZEROS.length);
    yield cipher.update(ZEROS.subarray(0, size));
    left -= size;
  }
}

/** SHA-256 of seededBytes(seed, totalBytes), computed by streaming it once. */
export async function seededSha256(seed: number, totalBytes: number): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of seededBytes(seed, totalBytes, 1024 * 1024)) hash.update(chunk);
  return hash.digest("hex");
}
