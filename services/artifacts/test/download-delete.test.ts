import { promises as fsp } from "node:fs";
import * as http from "node:http";
import { join } from "node:path";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterEach, describe, expect, it } from "vitest";
import { downloadDigest, type Harness, sha256Hex, startHarness, uploadOverGrpc } from "./support/harness.js";

const JOB = "job_00000000000000ee";
const TOKEN = "tok-dl";

let harness: Harness | undefined;
afterEach(async () => {
  await harness?.stop();
  harness = undefined;
});

async function start(): Promise<Harness> {
  harness = await startHarness();
  harness.registry.addToken(TOKEN, JOB);
  return harness;
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  return promise.then(
    () => "OK",
    (err: unknown) => Code[ConnectError.from(err).code] ?? "?",
  );
}

describe("DownloadArtifact", () => {
  it("serves the latest of two uploads of one path, and the older one by id", async () => {
    const h = await start();
    const first = await uploadOverGrpc(h.guestClient, { token: TOKEN, path: "report.json", body: Buffer.from("one") });
    await uploadOverGrpc(h.guestClient, { token: TOKEN, path: "report.json", body: Buffer.from("two!") });
    const latest = await downloadDigest(h.socketClient, {
      jobId: JOB,
      selector: { case: "path", value: "report.json" },
    });
    expect(latest.sha256).toBe(sha256Hex("two!"));
    expect(latest.artifactSha256).toBe(sha256Hex("two!"));
    const older = await downloadDigest(h.socketClient, {
      jobId: JOB,
      selector: { case: "artifactId", value: first.artifact?.id ?? 0n },
    });
    expect(older.sha256).toBe(sha256Hex("one"));
  });

  it("defaults to the latest bundle", async () => {
    const h = await start();
    await uploadOverGrpc(h.guestClient, { token: TOKEN, body: Buffer.from("bundle-1") });
    await uploadOverGrpc(h.guestClient, { token: TOKEN, path: "changes.patch", body: Buffer.from("patch") });
    await uploadOverGrpc(h.guestClient, { token: TOKEN, body: Buffer.from("bundle-2") });
    const got = await downloadDigest(h.socketClient, { jobId: JOB, selector: { case: undefined } });
    expect(got.sha256).toBe(sha256Hex("bundle-2"));
  });

  it("reads a migrated row from <job_id>/<path>", async () => {
    const h = await start();
    await fsp.mkdir(join(h.artifactDir, JOB, "logs"), { recursive: true });
    await fsp.writeFile(join(h.artifactDir, JOB, "logs", "agent.log"), "old log\n");
    h.registry.addMigratedRow(JOB, "logs/agent.log", 8, sha256Hex("old log\n"));
    const got = await downloadDigest(h.socketClient, { jobId: JOB, selector: { case: "name", value: "agent.log" } });
    expect(got.sha256).toBe(sha256Hex("old log\n"));
  });

  it("answers NOT_FOUND for an artifact the job does not have", async () => {
    const h = await start();
    expect(await codeOf(downloadDigest(h.socketClient, { jobId: JOB, selector: { case: "name", value: "x" } }))).toBe(
      "NotFound",
    );
  });

  it("is impossible over the guest listener (gRPC UNIMPLEMENTED, HTTP 404)", async () => {
    const h = await start();
    await uploadOverGrpc(h.guestClient, { token: TOKEN, body: Buffer.from("bundle") });
    expect(await codeOf(downloadDigest(h.guestClient, { jobId: JOB, selector: { case: undefined } }))).toBe(
      "Unimplemented",
    );
    expect(await codeOf(h.guestClient.deleteArtifacts({ jobId: JOB }))).toBe("Unimplemented");
    for (const method of ["DownloadArtifact", "DeleteArtifacts"]) {
      const status = await new Promise<number>((resolve, reject) => {
        const req = http.request(
          {
            host: "127.0.0.1",
            port: h.guestPort,
            method: "POST",
            path: `/agentlab.artifacts.v1.ArtifactService/${method}`,
            headers: { "content-type": "application/json" },
          },
          (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          },
        );
        req.on("error", reject);
        req.end(JSON.stringify({ job_id: JOB }));
      });
      expect(status, method).toBe(404);
    }
  });
});

describe("DeleteArtifacts", () => {
  it("removes files by stored path, counts missing ones as deleted and removes the empty job folder", async () => {
    const h = await start();
    await uploadOverGrpc(h.guestClient, { token: TOKEN, path: "logs/a.log", body: Buffer.from("aaaa") });
    await uploadOverGrpc(h.guestClient, { token: TOKEN, path: "b.txt", body: Buffer.from("bb") });
    const rows = h.registry.rowsOf(JOB);
    const res = await h.socketClient.deleteArtifacts({
      jobId: JOB,
      artifactIds: [...rows.map((r) => r.artifact?.id ?? 0n), 99n],
      storedPaths: [...rows.map((r) => r.storedPath), `${JOB}/gone.txt`],
    });
    expect(res.deletedIds).toEqual([1n, 2n, 99n]);
    expect(res.freedBytes).toBe(6n);
    expect(await h.listFiles()).toEqual([]);
    await expect(fsp.stat(join(h.artifactDir, JOB))).rejects.toThrow();
  });

  it("deletes every artifact of the job when no ids are given, looking paths up with control", async () => {
    const h = await start();
    await uploadOverGrpc(h.guestClient, { token: TOKEN, path: "x.txt", body: Buffer.from("x") });
    await uploadOverGrpc(h.guestClient, { token: TOKEN, path: "y.txt", body: Buffer.from("yy") });
    const res = await h.socketClient.deleteArtifacts({ jobId: JOB });
    expect(res.deletedIds).toEqual([1n, 2n]);
    expect(res.freedBytes).toBe(3n);
    expect(await h.listFiles()).toEqual([]);
  });

  it("refuses stored paths of another job or outside artifact_dir", async () => {
    const h = await start();
    for (const storedPath of ["job_00000000000000ff/x", `${JOB}/../job_00000000000000ff/x`, "/etc/passwd"]) {
      expect(await codeOf(h.socketClient.deleteArtifacts({ jobId: JOB, storedPaths: [storedPath] })), storedPath).toBe(
        "InvalidArgument",
      );
    }
  });
});
