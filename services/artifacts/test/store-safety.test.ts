import { promises as fsp } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterEach, describe, expect, it } from "vitest";
import { ArtifactStore } from "../src/artifact-store.js";
import { sweepTempFiles } from "../src/temp-sweeper.js";
import { type Harness, listFiles, startHarness, uploadOverGrpc } from "./support/harness.js";

const JOB = "job_0000000000000011";
const TOKEN = "tok-store";

let harness: Harness | undefined;
const dirs: string[] = [];
afterEach(async () => {
  await harness?.stop();
  harness = undefined;
  for (const dir of dirs.splice(0)) await fsp.rm(dir, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const dir = await fsp.mkdtemp(join(tmpdir(), "al-store-"));
  dirs.push(dir);
  return dir;
}

describe("symlinks inside artifact_dir", () => {
  it("are never followed by an upload: a link planted in the job folder pointing outside is refused", async () => {
    const outside = await tempDir();
    harness = await startHarness();
    harness.registry.addToken(TOKEN, JOB);
    await fsp.mkdir(join(harness.artifactDir, JOB), { recursive: true });
    await fsp.symlink(outside, join(harness.artifactDir, JOB, "logs"));
    const err = await uploadOverGrpc(harness.guestClient, {
      token: TOKEN,
      path: "logs/x.txt",
      body: Buffer.from("x"),
    }).then(
      () => undefined,
      (e: unknown) => ConnectError.from(e),
    );
    expect(err?.code).toBe(Code.PermissionDenied);
    expect(err?.rawMessage).toContain("symbolic link");
    expect(await fsp.readdir(outside)).toEqual([]);
  });

  it("are refused when the job folder itself is a link", async () => {
    const outside = await tempDir();
    harness = await startHarness();
    harness.registry.addToken(TOKEN, JOB);
    await fsp.symlink(outside, join(harness.artifactDir, JOB));
    const err = await uploadOverGrpc(harness.guestClient, { token: TOKEN, path: "x.txt", body: Buffer.from("x") }).then(
      () => undefined,
      (e: unknown) => ConnectError.from(e),
    );
    expect(err?.code).toBe(Code.PermissionDenied);
    expect(await fsp.readdir(outside)).toEqual([]);
  });

  it("are not opened for reading", async () => {
    const root = await tempDir();
    const outside = await tempDir();
    await fsp.writeFile(join(outside, "secret"), "secret");
    const store = await ArtifactStore.open({ root });
    await fsp.mkdir(join(root, JOB));
    await fsp.symlink(join(outside, "secret"), join(root, JOB, "a.txt"));
    await expect(store.openForRead(`${JOB}/a.txt`)).rejects.toThrow(/symbolic link/);
  });
});

describe("temp sweep", () => {
  it("removes .upload-*.tmp files anywhere under the root and nothing else", async () => {
    const root = await tempDir();
    await fsp.mkdir(join(root, JOB, "logs"), { recursive: true });
    await fsp.writeFile(join(root, JOB, ".upload-0123456789abcdef.tmp"), "partial");
    await fsp.writeFile(join(root, JOB, "logs", ".upload-fedcba9876543210.tmp"), "partial");
    await fsp.writeFile(join(root, JOB, "report.json.0123456789abcdef"), "kept");
    await fsp.writeFile(join(root, JOB, ".upload-notes.tmp"), "kept: not our pattern");
    const removed = await sweepTempFiles(root);
    expect(removed.sort()).toEqual([`${JOB}/.upload-0123456789abcdef.tmp`, `${JOB}/logs/.upload-fedcba9876543210.tmp`]);
    expect(await listFiles(root)).toEqual([`${JOB}/.upload-notes.tmp`, `${JOB}/report.json.0123456789abcdef`]);
  });

  it("runs at startup, before serving", async () => {
    harness = await startHarness({
      beforeStart: async (artifactDir) => {
        await fsp.mkdir(join(artifactDir, JOB), { recursive: true });
        await fsp.writeFile(join(artifactDir, JOB, ".upload-00000000000000aa.tmp"), "left by a killed process");
      },
    });
    expect(await harness.listFiles()).toEqual([]);
  });
});
