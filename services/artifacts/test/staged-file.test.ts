import { createHash } from "node:crypto";
import { promises as fsp } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ArtifactStore, StagedFile } from "../src/artifact-store.js";
import { seededBytes } from "./support/seeded-bytes.js";

const MiB = 1024 * 1024;
const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await fsp.rm(dir, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const dir = await fsp.mkdtemp(join(tmpdir(), "al-staged-"));
  dirs.push(dir);
  return dir;
}

describe("StagedFile", () => {
  it("writes chunks of any size in order while the previous batch is still being written", async () => {
    const store = await ArtifactStore.open({ root: await tempDir() });
    const staged = await store.stage("job_00000000000000aa", "out/data.bin");
    const sent = createHash("sha256");
    // Odd sizes so that chunks straddle the 1 MiB batches; 5.3 MiB so that both buffers are reused.
    const total = Math.floor(5.3 * MiB);
    for await (const chunk of seededBytes(4, total, 100_003)) {
      sent.update(chunk);
      await staged.write(chunk);
    }
    await staged.commit();
    const stored = await fsp.readFile(join(store.root, staged.storedPath));
    expect(stored.length).toBe(total);
    expect(createHash("sha256").update(stored).digest("hex")).toBe(sent.digest("hex"));
  });

  it("fails the upload on a failed disk write and still discards cleanly", async () => {
    const dir = await tempDir();
    let writes = 0;
    let closed = false;
    const failing = {
      write: async (_buffer: Buffer, _offset: number, length: number) => {
        writes++;
        if (writes === 2) throw Object.assign(new Error("no space left on device"), { code: "ENOSPC" });
        return { bytesWritten: length };
      },
      sync: async () => undefined,
      close: async () => {
        closed = true;
      },
    } as unknown as FileHandle;
    const staged = new StagedFile(failing, dir, ".upload-0000000000000000.tmp", "x.bin.00", "job/x.bin.00");
    const chunk = Buffer.alloc(256 * 1024, 1);
    // The failure of the second batch's write surfaces when the third batch needs its buffer.
    const outcome = (async () => {
      for (let i = 0; i < 16; i++) await staged.write(chunk);
    })();
    await expect(outcome).rejects.toThrow("no space left on device");
    await staged.discard();
    expect(closed).toBe(true);
  });

  it("discards while a write is in flight without leaving its failure unhandled", async () => {
    const dir = await tempDir();
    let fail: (err: Error) => void = () => undefined;
    const pending = {
      write: () =>
        new Promise((_resolve, reject) => {
          fail = reject;
        }),
      close: async () => undefined,
    } as unknown as FileHandle;
    const staged = new StagedFile(pending, dir, ".upload-0000000000000001.tmp", "y.bin.00", "job/y.bin.00");
    await staged.write(Buffer.alloc(MiB));
    const discarded = staged.discard();
    fail(new Error("EIO"));
    await discarded;
  });
});
