import { promises as fsp } from "node:fs";
import { join } from "node:path";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterEach, describe, expect, it, vi } from "vitest";
import { downloadDigest, type Harness, sha256Hex, startHarness, uploadOverGrpc } from "./support/harness.js";
import { seededBytes, seededSha256 } from "./support/seeded-bytes.js";

const JOB = "job_00000000000000aa";
const TOKEN = "tok-valid";
const MiB = 1024 * 1024;

let harness: Harness | undefined;
afterEach(async () => {
  await harness?.stop();
  harness = undefined;
});

async function start(options: Parameters<typeof startHarness>[0] = {}): Promise<Harness> {
  harness = await startHarness(options);
  harness.registry.addToken(TOKEN, JOB);
  return harness;
}

async function expectCode(promise: Promise<unknown>, code: Code): Promise<ConnectError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => ConnectError.from(e),
  );
  expect(err, "the call should have failed").toBeInstanceOf(ConnectError);
  expect(Code[(err as ConnectError).code]).toBe(Code[code]);
  return err as ConnectError;
}

describe("UploadArtifact", () => {
  it("stores a small file, records it and reports the stored path", async () => {
    const h = await start();
    const content = Buffer.from("diff --git a/x b/x\n");
    const res = await uploadOverGrpc(h.guestClient, { token: TOKEN, path: "changes.patch", body: content });
    expect(res.artifact?.jobId).toBe(JOB);
    expect(res.artifact?.sha256).toBe(sha256Hex(content));
    expect(res.artifact?.mime).toBe("text/x-diff");
    const [row] = h.registry.rowsOf(JOB);
    expect(row?.storedPath).toMatch(/^job_00000000000000aa\/changes\.patch\.[0-9a-f]{16}$/);
    expect(await fsp.readFile(join(h.artifactDir, row?.storedPath ?? ""))).toEqual(content);
    expect(await h.listFiles()).toEqual([row?.storedPath]);
  });

  it("stores an empty path as the default bundle", async () => {
    const h = await start();
    const res = await uploadOverGrpc(h.socketClient, { token: TOKEN, body: Buffer.from("tar") });
    expect(res.artifact?.path).toBe("agentlab-artifacts.tar.gz");
    expect(res.artifact?.mime).toBe("application/gzip");
  });

  it("round-trips 300 MiB byte-identical over the guest listener", { timeout: 300_000 }, async () => {
    const size = 300 * MiB;
    const h = await start({ maxBytes: 512 * MiB });
    const expected = await seededSha256(7, size);
    const res = await uploadOverGrpc(h.guestClient, { token: TOKEN, path: "big.bin", body: seededBytes(7, size) });
    expect(res.artifact?.sha256).toBe(expected);
    expect(res.artifact?.sizeBytes).toBe(BigInt(size));
    const got = await downloadDigest(h.socketClient, { jobId: JOB, selector: { case: "path", value: "big.bin" } });
    expect(got).toMatchObject({ sha256: expected, size, artifactSha256: expected });
  });

  it("takes messages of the contract's maximum (1 MiB chunks)", async () => {
    const size = 6 * MiB + 12345;
    const h = await start({ maxBytes: 64 * MiB });
    const expected = await seededSha256(8, size);
    const res = await uploadOverGrpc(h.guestClient, { token: TOKEN, path: "max.bin", body: seededBytes(8, size, MiB) });
    expect(res.artifact?.sha256).toBe(expected);
  });

  it("rejects a size mismatch and stores nothing", async () => {
    const h = await start();
    const body = Buffer.from("hello");
    const err = await expectCode(
      uploadOverGrpc(h.guestClient, {
        token: TOKEN,
        path: "a.txt",
        body,
        trailer: { sizeBytes: 6n, sha256: sha256Hex(body) },
      }),
      Code.InvalidArgument,
    );
    expect(err.rawMessage).toContain("size mismatch");
    expect(await h.listFiles()).toEqual([]);
    expect(h.registry.recordCalls).toBe(0);
  });

  it("rejects a sha256 mismatch and stores nothing", async () => {
    const h = await start();
    const err = await expectCode(
      uploadOverGrpc(h.guestClient, {
        token: TOKEN,
        path: "a.txt",
        body: Buffer.from("hello"),
        trailer: { sizeBytes: 5n, sha256: sha256Hex("other") },
      }),
      Code.InvalidArgument,
    );
    expect(err.rawMessage).toContain("sha256 mismatch");
    expect(await h.listFiles()).toEqual([]);
    expect(h.registry.recordCalls).toBe(0);
  });

  it("rejects an upload without a trailer and stores nothing", async () => {
    const h = await start();
    const err = await expectCode(
      uploadOverGrpc(h.guestClient, { token: TOKEN, path: "a.txt", body: Buffer.from("hello"), trailer: null }),
      Code.InvalidArgument,
    );
    expect(err.rawMessage).toContain("without a trailer");
    expect(await h.listFiles()).toEqual([]);
  });

  it("rejects an oversized upload mid-stream, naming the limit, and stores nothing", async () => {
    const h = await start({ maxBytes: MiB });
    let sent = 0;
    const err = await expectCode(
      uploadOverGrpc(h.guestClient, {
        token: TOKEN,
        path: "big.bin",
        body: seededBytes(1, 64 * MiB),
        onChunk: (n) => {
          sent = n;
        },
      }),
      Code.ResourceExhausted,
    );
    expect(err.rawMessage).toContain("1048576 bytes (artifact_max_bytes)");
    // The stream was cut near the limit, not read to its end.
    expect(sent).toBeLessThan(64 * MiB);
    expect(await h.listFiles()).toEqual([]);
    expect(h.registry.recordCalls).toBe(0);
  });

  it("uses control's max_bytes when it is smaller", async () => {
    const h = await start({ maxBytes: 8 * MiB });
    h.registry.maxBytes = 1000n;
    const err = await expectCode(
      uploadOverGrpc(h.guestClient, { token: TOKEN, path: "a.bin", body: Buffer.alloc(1001) }),
      Code.ResourceExhausted,
    );
    expect(err.rawMessage).toContain("limit of 1000 bytes");
  });

  it("leaves nothing when the client goes away mid-upload", async () => {
    const h = await start({ maxBytes: 512 * MiB });
    const abort = new AbortController();
    const tempSeen = () => h.listFiles().then((files) => files.some((f) => /\.upload-[0-9a-f]+\.tmp$/.test(f)));
    const upload = uploadOverGrpc(h.guestClient, {
      token: TOKEN,
      path: "cut.bin",
      body: seededBytes(3, 256 * MiB),
      signal: abort.signal,
      onChunk: async (n) => {
        // Once the server is demonstrably writing, hang up.
        if (n >= 8 * MiB && (await tempSeen())) abort.abort();
      },
    });
    await expect(upload).rejects.toThrow();
    await vi.waitFor(async () => expect(await h.listFiles()).toEqual([]), { timeout: 20_000, interval: 50 });
    expect(h.registry.recordCalls).toBe(0);
    expect(h.registry.rows).toEqual([]);
  });

  it.each([
    ["unknown", undefined, Code.Unauthenticated],
    ["expired", "expired", Code.Unauthenticated],
    ["finished job", "finished", Code.PermissionDenied],
    ["other job", "other-job", Code.PermissionDenied],
  ] as const)("refuses a token that is %s before writing anything", async (_label, state, code) => {
    const h = await start();
    if (state) h.registry.addToken("tok-bad", "job_00000000000000bb", state);
    await expectCode(uploadOverGrpc(h.guestClient, { token: "tok-bad", path: "a.txt", body: Buffer.from("x") }), code);
    expect(h.registry.authorizeCalls).toBe(1);
    expect(await h.listFiles()).toEqual([]);
  });

  it("refuses an empty token without asking control", async () => {
    const h = await start();
    await expectCode(
      uploadOverGrpc(h.guestClient, { token: "", path: "a.txt", body: Buffer.from("x") }),
      Code.Unauthenticated,
    );
    expect(h.registry.authorizeCalls).toBe(0);
  });

  it("removes the stored file when RecordArtifact fails and passes control's code on", async () => {
    const h = await start();
    h.registry.failRecord = new ConnectError("database is locked", Code.Unavailable);
    const err = await expectCode(
      uploadOverGrpc(h.guestClient, { token: TOKEN, path: "a.txt", body: Buffer.from("hello") }),
      Code.Unavailable,
    );
    expect(err.rawMessage).toContain("the stored file was removed");
    expect(h.registry.recordCalls).toBe(1);
    expect(await h.listFiles()).toEqual([]);
  });

  it("keeps two uploads of one path apart", async () => {
    const h = await start();
    await uploadOverGrpc(h.socketClient, { token: TOKEN, path: "logs/run.log", body: Buffer.from("one") });
    await uploadOverGrpc(h.socketClient, { token: TOKEN, path: "logs/run.log", body: Buffer.from("two") });
    const stored = h.registry.rowsOf(JOB).map((r) => r.storedPath);
    expect(new Set(stored).size).toBe(2);
    expect((await h.listFiles()).sort()).toEqual([...stored].sort());
  });
});
