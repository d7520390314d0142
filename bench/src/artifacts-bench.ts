/**
 * Artifacts throughput and memory: a 1 GiB artifact through UploadArtifact (gRPC, HTTP/2) and POST
 * /upload (HTTP/1.1), against a baseline of a plain Node HTTP server writing the body to a file on
 * the same disk, then downloads the gRPC upload back with `agentlab job artifacts download` (the CLI
 * binary, over the artifacts Unix socket: DownloadArtifact, verified and fsynced; its time includes
 * the CLI's start-up). The artifacts server runs in a child process so its peak RSS (VmHWM) is its own.
 *
 *   node --import tsx bench/src/artifacts-bench.ts [size-in-MiB]
 *
 * BENCH_ONLY=<regex> runs the baseline and the rows it matches (the download needs the gRPC row); BENCH_DEBUG=1 prints the server's
 * VmHWM after each row and its output (AGENTLAB_MEMORY_TRACE=<ms> adds memory samples);
 * BENCH_SERVER_NODE_FLAGS adds Node flags to the server (e.g. --trace-gc).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createCipheriv, createHash } from "node:crypto";
import { promises as fsp, readFileSync } from "node:fs";
import * as http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  ArtifactRegistryService,
  ArtifactSchema,
  ArtifactService,
  type StoredArtifact,
  StoredArtifactSchema,
  type UploadArtifactRequest,
  UploadArtifactRequestSchema,
} from "@agentlab/api";
import { listen } from "@agentlab/core/listener";
import { create } from "@bufbuild/protobuf";
import { timestampNow } from "@bufbuild/protobuf/wkt";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";

const MiB = 1024 * 1024;
const SIZE = Number(process.argv[2] ?? 1024) * MiB;
const CHUNK = 64 * 1024;
const JOB = "job_00000000000bench0";
const TOKEN = "bench-token";
/** The production binary (bundled by `npm run build`); BENCH_FROM_SOURCE=1 runs src/main.ts through tsx. */
const SERVER_ARGS = process.env.BENCH_FROM_SOURCE
  ? ["--import", "tsx", new URL("../../services/artifacts/src/main.ts", import.meta.url).pathname]
  : [new URL("../../services/artifacts/bin/agentlab-artifacts.mjs", import.meta.url).pathname];
/** The CLI that `agentlab job artifacts download` runs, bundled or from source like the server. */
const CLI_ARGS = process.env.BENCH_FROM_SOURCE
  ? ["--import", "tsx", new URL("../../clients/cli/src/main.ts", import.meta.url).pathname]
  : [new URL("../../clients/cli/bin/agentlab.mjs", import.meta.url).pathname];
const ZEROS = Buffer.alloc(CHUNK);

/** Deterministic content without holding it: AES-128-CTR over zeros. */
async function* content(seed: number, total: number): AsyncGenerator<Buffer> {
  const key = createHash("sha256").update(`bench:${seed}`).digest().subarray(0, 16);
  const cipher = createCipheriv("aes-128-ctr", key, Buffer.alloc(16));
  for (let left = total; left > 0; left -= CHUNK) yield cipher.update(ZEROS.subarray(0, Math.min(CHUNK, left)));
}

async function digest(seed: number, total: number): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of content(seed, total)) hash.update(chunk);
  return hash.digest("hex");
}

async function fileDigest(path: string): Promise<string> {
  const hash = createHash("sha256");
  const handle = await fsp.open(path);
  try {
    for await (const chunk of handle.createReadStream({ highWaterMark: MiB })) hash.update(chunk as Buffer);
  } finally {
    await handle.close();
  }
  return hash.digest("hex");
}

function postBody(port: number, path: string, seed: number, headers: Record<string, string | number>): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, method: "POST", path, headers, agent: false }, (res) => {
      let text = "";
      res.on("data", (c: Buffer) => {
        text += c.toString();
      });
      res.on("end", () =>
        res.statusCode && res.statusCode < 300 ? resolve(text) : reject(new Error(`${res.statusCode}: ${text}`)),
      );
    });
    req.on("error", reject);
    (async () => {
      for await (const chunk of content(seed, SIZE)) {
        if (!req.write(chunk)) await new Promise((r) => req.once("drain", r));
      }
      req.end();
    })().catch(reject);
  });
}

function waitForLine(child: ChildProcess, marker: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffered = "";
    child.stdout?.on("data", (c: Buffer) => {
      buffered += c.toString();
      const line = buffered.split("\n").find((l) => l.includes(marker));
      if (line) resolve(line);
    });
    child.once("exit", (code) => reject(new Error(`child exited ${code} before "${marker}"`)));
  });
}

function run(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr?.on("data", (c: Buffer) => {
      stderr += c.toString();
    });
    child.once("error", reject);
    child.once("exit", (code) => (code === 0 ? resolve() : reject(new Error(`exit ${code}: ${stderr.trim()}`))));
  });
}

function peakRssMiB(pid: number): number {
  const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return Number(match?.[1] ?? 0) / 1024;
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const done = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  await done;
}

/** The baseline: what Node alone does writing a request body to a file on this disk (with fsync). */
const BASELINE_SERVER = `
const http = require("node:http"); const fs = require("node:fs");
let n = 0;
http.createServer((req, res) => {
  const path = process.argv[1] + "/baseline-" + n++;
  const out = fs.createWriteStream(path);
  req.pipe(out);
  out.on("finish", () => fs.fsync(out.fd ?? fs.openSync(path, "r+"), () => { res.writeHead(201); res.end(); }));
}).listen(0, "127.0.0.1", function () { console.log("listening " + this.address().port); });
`;

async function main(): Promise<void> {
  const dir = await fsp.mkdtemp(join(tmpdir(), "al-bench-"));
  const children: ChildProcess[] = [];
  const closers: (() => Promise<void>)[] = [];
  try {
    const expected = [await digest(1, SIZE), await digest(2, SIZE), await digest(3, SIZE)];

    // Control's registry, in this process: accepts the bench token and records rows in memory.
    const rows: StoredArtifact[] = [];
    const control = await listen({
      endpoint: { unix: { path: join(dir, "control.sock") } },
      connectRoutes: (router) =>
        router.service(ArtifactRegistryService, {
          authorizeUpload: () => ({ jobId: JOB, vmid: 100, maxBytes: BigInt(SIZE * 2) }),
          recordArtifact: (req) => {
            const artifact = create(ArtifactSchema, {
              id: BigInt(rows.length + 1),
              jobId: JOB,
              vmid: 100,
              name: req.path,
              path: req.path,
              sizeBytes: req.sizeBytes,
              sha256: req.sha256,
              mime: req.mime,
              createdAt: timestampNow(),
            });
            rows.push(create(StoredArtifactSchema, { artifact, storedPath: req.storedPath }));
            return { artifact };
          },
          listArtifacts: () => ({ artifacts: rows }),
        }),
    });
    closers.push(() => control.close());

    const config = join(dir, "config.yaml");
    await fsp.writeFile(
      config,
      [
        `data_dir: ${join(dir, "data")}`,
        `run_dir: ${dir}`,
        `socket_path: ${join(dir, "control.sock")}`,
        "sandbox_backend: local",
        "bootstrap_listen: 127.0.0.1:0",
        "artifact_listen: 127.0.0.1:0",
        "agent_subnet: 127.0.0.0/8",
        `artifact_max_bytes: ${SIZE * 2}`,
        "",
      ].join("\n"),
      { mode: 0o600 },
    );
    const extraFlags = (process.env.BENCH_SERVER_NODE_FLAGS ?? "").split(" ").filter(Boolean);
    const server = spawn(process.execPath, [...extraFlags, ...SERVER_ARGS, "--config", config], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    children.push(server);
    if (process.env.BENCH_DEBUG) server.stdout?.on("data", (c: Buffer) => process.stderr.write(c));
    const ready = JSON.parse(await waitForLine(server, '"ready":true')) as { guest: string; socket: string };
    const port = Number(ready.guest.split(":").at(-1));
    const idlePeak = peakRssMiB(server.pid ?? 0);

    const baselineDir = join(dir, "baseline");
    await fsp.mkdir(baselineDir);
    const baseline = spawn(process.execPath, ["-e", BASELINE_SERVER, baselineDir], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    children.push(baseline);
    const baselinePort = Number((await waitForLine(baseline, "listening")).split(" ")[1]);

    const results: { name: string; seconds: number }[] = [];
    const only = process.env.BENCH_ONLY ? new RegExp(process.env.BENCH_ONLY, "i") : undefined;
    const time = async (name: string, run: () => Promise<void>) => {
      if (only && !name.startsWith("baseline") && !only.test(name)) return;
      const started = performance.now();
      await run();
      results.push({ name, seconds: (performance.now() - started) / 1000 });
      if (process.env.BENCH_DEBUG)
        process.stderr.write(`${name}: server VmHWM ${peakRssMiB(server.pid ?? 0).toFixed(0)} MiB\n`);
    };

    await time("baseline: node http → file", async () => {
      await postBody(baselinePort, "/", 1, { "content-length": SIZE });
      const [file] = await fsp.readdir(baselineDir);
      if ((await fileDigest(join(baselineDir, file ?? ""))) !== expected[0]) throw new Error("baseline file differs");
    });
    const baselinePeak = peakRssMiB(baseline.pid ?? 0);
    await fsp.rm(baselineDir, { recursive: true, force: true });

    await time("POST /upload (HTTP/1.1)", async () => {
      const reply = JSON.parse(
        await postBody(port, "/upload?path=http.bin", 2, {
          authorization: `Bearer ${TOKEN}`,
          "content-length": SIZE,
          "x-content-sha256": expected[1] ?? "",
        }),
      ) as { artifact: { sha256: string } };
      if (reply.artifact.sha256 !== expected[1]) throw new Error("POST /upload digest differs");
    });

    const client = createClient(
      ArtifactService,
      createGrpcTransport({
        baseUrl: `http://127.0.0.1:${port}`,
        nodeOptions: { settings: { initialWindowSize: 4 * MiB } },
      }),
    );
    await time("UploadArtifact (gRPC, HTTP/2)", async () => {
      async function* messages(): AsyncGenerator<UploadArtifactRequest> {
        yield create(UploadArtifactRequestSchema, {
          part: { case: "header", value: { token: TOKEN, path: "grpc.bin" } },
        });
        for await (const chunk of content(3, SIZE)) {
          yield create(UploadArtifactRequestSchema, { part: { case: "chunk", value: chunk } });
        }
        yield create(UploadArtifactRequestSchema, {
          part: { case: "trailer", value: { sizeBytes: BigInt(SIZE), sha256: expected[2] ?? "" } },
        });
      }
      const res = await client.uploadArtifact(messages());
      if (res.artifact?.sha256 !== expected[2]) throw new Error("UploadArtifact digest differs");
    });

    await time("job artifacts download (CLI)", async () => {
      const out = join(dir, "downloaded.bin");
      await run([
        ...(process.env.BENCH_CLI_NODE_FLAGS ?? "").split(" ").filter(Boolean),
        ...CLI_ARGS,
        "--artifacts-socket",
        ready.socket,
        "job",
        "artifacts",
        "download",
        JOB,
        "--path",
        "grpc.bin",
        "--out",
        out,
      ]);
      if ((await fileDigest(out)) !== expected[2]) throw new Error("downloaded file differs");
      await fsp.rm(out);
    });

    // The stored files themselves, read back from disk.
    for (const row of rows) {
      const onDisk = await fileDigest(join(dir, "data", "artifacts", row.storedPath));
      if (onDisk !== row.artifact?.sha256) throw new Error(`stored file ${row.storedPath} differs from its record`);
    }

    const peak = peakRssMiB(server.pid ?? 0);
    const baselineSeconds = results[0]?.seconds ?? 1;
    const mibPerSecond = (seconds: number) => SIZE / MiB / seconds;
    process.stdout.write(`\nartifacts bench: ${SIZE / MiB} MiB per transfer, ${tmpdir()} disk, sha256 verified\n\n`);
    process.stdout.write(
      `${"transfer".padEnd(32)} ${"seconds".padStart(8)} ${"MiB/s".padStart(8)} ${"vs baseline".padStart(12)}\n`,
    );
    for (const r of results) {
      const ratio = `${((baselineSeconds / r.seconds) * 100).toFixed(0)} %`;
      process.stdout.write(
        `${r.name.padEnd(32)} ${r.seconds.toFixed(2).padStart(8)} ${mibPerSecond(r.seconds).toFixed(0).padStart(8)} ${ratio.padStart(12)}\n`,
      );
    }
    process.stdout.write(
      `\nartifacts server peak RSS (VmHWM): ${peak.toFixed(0)} MiB (goal ≤ 150 MB); ${idlePeak.toFixed(0)} MiB already at ready; baseline server peak ${baselinePeak.toFixed(0)} MiB\n`,
    );
    const uploads = results.slice(1).filter((r) => !r.name.includes("download"));
    const worst = Math.min(...uploads.map((r) => baselineSeconds / r.seconds));
    process.stdout.write(`slowest upload path vs baseline: ${(worst * 100).toFixed(0)} % (goal ≥ 50 %)\n`);
    const download = results.find((r) => r.name.includes("download"));
    if (download) {
      process.stdout.write(
        `download: ${mibPerSecond(download.seconds).toFixed(0)} MiB/s including the CLI's start-up (goal ≥ 100 MiB/s)\n`,
      );
    }
  } finally {
    for (const child of children) await stop(child);
    for (const close of closers) await close();
    await fsp.rm(dir, { recursive: true, force: true });
  }
}

await main();
