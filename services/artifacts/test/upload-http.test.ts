import { spawn } from "node:child_process";
import { promises as fsp } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { downloadDigest, type Harness, sha256Hex, startHarness, uploadOverHttp } from "./support/harness.js";
import { seededBytes, seededSha256 } from "./support/seeded-bytes.js";

const JOB = "job_00000000000000cc";
const TOKEN = "tok-http";
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

describe("POST /upload", () => {
  it("stores the body and answers 201 with the artifact", async () => {
    const h = await start();
    const body = Buffer.from('{"ok":true}\n');
    const reply = await uploadOverHttp({
      port: h.guestPort,
      token: TOKEN,
      path: "report.json",
      body,
      headers: { "x-content-sha256": sha256Hex(body), "content-length": body.length },
    });
    expect(reply.status).toBe(201);
    expect(reply.json).toEqual({
      job_id: JOB,
      artifact: {
        id: 1,
        name: "report.json",
        path: "report.json",
        size_bytes: body.length,
        sha256: sha256Hex(body),
        mime: "application/json",
      },
    });
    const storedPath = h.registry.rowsOf(JOB)[0]?.storedPath ?? "";
    expect(await fsp.readFile(join(h.artifactDir, storedPath))).toEqual(body);
  });

  it("works for a curl-only guest", async () => {
    const h = await start();
    const file = join(h.dir, "changes.patch");
    await fsp.writeFile(file, "diff --git a/f b/f\n");
    const out = await new Promise<string>((resolve, reject) => {
      const curl = spawn("curl", [
        "-sS",
        "--fail-with-body",
        "-H",
        `Authorization: Bearer ${TOKEN}`,
        "--data-binary",
        `@${file}`,
        `http://127.0.0.1:${h.guestPort}/upload?path=changes.patch`,
      ]);
      let text = "";
      curl.stdout.on("data", (c: Buffer) => {
        text += c.toString();
      });
      curl.on("error", reject);
      curl.on("close", (code) => (code === 0 ? resolve(text) : reject(new Error(`curl exited ${code}: ${text}`))));
    });
    const json = JSON.parse(out) as { artifact: { mime: string; sha256: string } };
    expect(json.artifact.mime).toBe("text/x-diff");
    expect(json.artifact.sha256).toBe(sha256Hex("diff --git a/f b/f\n"));
  });

  it("round-trips 300 MiB byte-identical", { timeout: 300_000 }, async () => {
    const size = 300 * MiB;
    const h = await start({ maxBytes: 512 * MiB });
    const expected = await seededSha256(11, size);
    const reply = await uploadOverHttp({
      port: h.guestPort,
      token: TOKEN,
      path: "big.bin",
      body: seededBytes(11, size),
      headers: { "content-length": size, "x-content-sha256": expected },
    });
    expect(reply.status).toBe(201);
    const got = await downloadDigest(h.socketClient, { jobId: JOB, selector: { case: "name", value: "big.bin" } });
    expect(got).toMatchObject({ sha256: expected, size });
  });

  it("answers 401 without a bearer token and 401/403 for refused tokens", async () => {
    const h = await start();
    h.registry.addToken("tok-expired", JOB, "expired");
    h.registry.addToken("tok-finished", JOB, "finished");
    h.registry.addToken("tok-other", "job_00000000000000dd", "other-job");
    const body = Buffer.from("x");
    expect((await uploadOverHttp({ port: h.guestPort, body })).status).toBe(401);
    expect(h.registry.authorizeCalls).toBe(0);
    const cases: [string, number][] = [
      ["tok-unknown", 401],
      ["tok-expired", 401],
      ["tok-finished", 403],
      ["tok-other", 403],
    ];
    for (const [token, status] of cases) {
      const reply = await uploadOverHttp({ port: h.guestPort, token, body });
      expect(reply.status, token).toBe(status);
      expect(typeof reply.json?.error).toBe("string");
    }
    expect(await h.listFiles()).toEqual([]);
  });

  it("answers 413 at once for a Content-Length over the cap", async () => {
    const h = await start({ maxBytes: MiB });
    const reply = await uploadOverHttp({
      port: h.guestPort,
      token: TOKEN,
      body: seededBytes(2, 4 * MiB),
      headers: { "content-length": 4 * MiB },
    });
    expect(reply.status).toBe(413);
    expect(reply.json?.error).toContain("1048576 bytes (artifact_max_bytes)");
    expect(h.registry.authorizeCalls).toBe(0);
    expect(await h.listFiles()).toEqual([]);
  });

  it("answers 413 mid-stream for a chunked body over the cap", async () => {
    const h = await start({ maxBytes: MiB });
    const reply = await uploadOverHttp({ port: h.guestPort, token: TOKEN, body: seededBytes(2, 8 * MiB) });
    expect(reply.status).toBe(413);
    expect(reply.json?.error).toContain("artifact_max_bytes");
    expect(await h.listFiles()).toEqual([]);
    expect(h.registry.recordCalls).toBe(0);
  });

  it("rejects an X-Content-SHA256 mismatch and a short body, storing nothing", async () => {
    const h = await start();
    const body = Buffer.from("hello");
    const bad = await uploadOverHttp({
      port: h.guestPort,
      token: TOKEN,
      body,
      headers: { "x-content-sha256": sha256Hex("other") },
    });
    expect(bad.status).toBe(400);
    expect(bad.json?.error).toContain("sha256 mismatch");
    expect(await h.listFiles()).toEqual([]);
    expect(h.registry.recordCalls).toBe(0);
  });

  it("refuses traversal in ?path with 400 and stores nothing", async () => {
    const h = await start();
    for (const path of ["../x", "/etc/passwd", "a/../../x", "%2e%2e/x", "a\\..\\x", "./../x", "a//b"]) {
      const reply = await uploadOverHttp({ port: h.guestPort, token: TOKEN, path, body: Buffer.from("x") });
      expect(reply.status, path).toBe(400);
    }
    expect(h.registry.authorizeCalls).toBe(0);
    expect(await h.listFiles()).toEqual([]);
  });

  it("leaves nothing when the client disconnects mid-body", async () => {
    const h = await start({ maxBytes: 512 * MiB });
    const tempSeen = () => h.listFiles().then((files) => files.some((f) => /\.upload-[0-9a-f]+\.tmp$/.test(f)));
    const reply = await uploadOverHttp({
      port: h.guestPort,
      token: TOKEN,
      path: "cut.bin",
      body: seededBytes(5, 256 * MiB),
      headers: { "content-length": 256 * MiB },
      onChunk: async (sent) => (sent >= 8 * MiB && (await tempSeen()) ? "abort" : undefined),
    });
    expect(reply.status).toBe(0);
    await vi.waitFor(async () => expect(await h.listFiles()).toEqual([]), { timeout: 20_000, interval: 50 });
    expect(h.registry.recordCalls).toBe(0);
  });

  it("answers 405 for other methods on /upload", async () => {
    const h = await start();
    const reply = await uploadOverHttp({ port: h.guestPort, token: TOKEN, method: "PUT", body: Buffer.from("x") });
    expect(reply.status).toBe(405);
  });
});
