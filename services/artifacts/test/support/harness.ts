import { createHash } from "node:crypto";
import { promises as fsp } from "node:fs";
import * as http from "node:http";
import * as net from "node:net";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import {
  ArtifactRegistryService,
  ArtifactService,
  type UploadArtifactRequest,
  UploadArtifactRequestSchema,
  type UploadArtifactResponse,
} from "@agentlab/api";
import { type Listener, listen } from "@agentlab/core/listener";
import { createPeerTransport } from "@agentlab/core/peer-transport";
import { create } from "@bufbuild/protobuf";
import { type Client, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { pino } from "pino";
import { type ArtifactsServer, startArtifactsServer } from "../../src/artifacts-server.js";
import { TestRegistry } from "./test-registry.js";

/** Large transfers stall at HTTP/2's 64 KiB default receive window; clients raise theirs too. */
export const CLIENT_HTTP2_SETTINGS = { initialWindowSize: 4 * 1024 * 1024 };

export interface HarnessOptions {
  agentSubnet?: string;
  maxBytes?: number;
  rateLimit?: { qps: number; burst: number };
  now?: () => number;
  /** Runs before the server starts (to plant files for the sweep test). */
  beforeStart?: (artifactDir: string) => Promise<void>;
}

export interface Harness {
  dir: string;
  artifactDir: string;
  registry: TestRegistry;
  server: ArtifactsServer;
  /** ArtifactService over the artifacts Unix socket (gRPC, HTTP/2). */
  socketClient: Client<typeof ArtifactService>;
  /** ArtifactService over the guest listener (gRPC, HTTP/2). */
  guestClient: Client<typeof ArtifactService>;
  guestPort: number;
  /** Every regular file and symlink under artifact_dir, relative to it. */
  listFiles(): Promise<string[]>;
  stop(): Promise<void>;
}

/** A whole artifacts service on real sockets in a temp dir, with a test registry as control. */
export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const dir = await fsp.mkdtemp(join(tmpdir(), "al-art-"));
  const artifactDir = join(dir, "artifacts");
  const registry = new TestRegistry();
  let registryListener: Listener | undefined;
  let server: ArtifactsServer | undefined;
  try {
    registryListener = await listen({
      endpoint: { unix: { path: join(dir, "control.sock") } },
      connectRoutes: registry.routes,
    });
    const registryClient = createClient(
      ArtifactRegistryService,
      createPeerTransport(`unix://${join(dir, "control.sock")}`, { protocol: "connect" }),
    );
    if (options.beforeStart) {
      await fsp.mkdir(artifactDir, { recursive: true });
      await options.beforeStart(artifactDir);
    }
    server = await startArtifactsServer({
      artifactDir,
      socketPath: join(dir, "artifacts.sock"),
      guestListen: { host: "127.0.0.1", port: 0 },
      agentSubnet: options.agentSubnet ?? "127.0.0.0/8",
      maxBytes: options.maxBytes ?? 64 * 1024 * 1024,
      rateLimit: options.rateLimit ?? { qps: 0, burst: 0 },
      registry: registryClient,
      logger: pino({ level: "silent" }),
      ...(options.now && { now: options.now }),
    });
  } catch (err) {
    await server?.close();
    await registryListener?.close();
    await fsp.rm(dir, { recursive: true, force: true });
    throw err;
  }
  const socketPath = join(dir, "artifacts.sock");
  const guestPort = server.guestPort ?? 0;
  const started = server;
  const startedRegistry = registryListener;
  return {
    dir,
    artifactDir,
    registry,
    server,
    guestPort,
    socketClient: createClient(
      ArtifactService,
      createGrpcTransport({
        baseUrl: "http://localhost",
        nodeOptions: { createConnection: () => net.connect(socketPath) },
      }),
    ),
    guestClient: createClient(
      ArtifactService,
      createGrpcTransport({
        baseUrl: `http://127.0.0.1:${guestPort}`,
        nodeOptions: { settings: CLIENT_HTTP2_SETTINGS },
      }),
    ),
    listFiles: () => listFiles(artifactDir),
    async stop() {
      await started.close();
      await startedRegistry.close();
      await fsp.rm(dir, { recursive: true, force: true });
    },
  };
}

export async function listFiles(root: string): Promise<string[]> {
  const found: string[] = [];
  const walk = async (dir: string) => {
    let entries: import("node:fs").Dirent[];
    try {
      entries = await fsp.readdir(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) await walk(path);
      else found.push(relative(root, path));
    }
  };
  await walk(root);
  return found.sort();
}

export interface GrpcUpload {
  token: string;
  path?: string;
  mime?: string;
  body: AsyncIterable<Uint8Array> | Uint8Array;
  /** Override the trailer; null sends none. Default: the true size and sha256. */
  trailer?: { sizeBytes: bigint; sha256: string } | null;
  signal?: AbortSignal;
  /** Called after each chunk is handed to the transport. */
  onChunk?: (sentBytes: number) => Promise<void> | void;
}

/** UploadArtifact with a header, the body's chunks and a trailer computed while sending. */
export function uploadOverGrpc(
  client: Client<typeof ArtifactService>,
  upload: GrpcUpload,
): Promise<UploadArtifactResponse> {
  async function* messages(): AsyncGenerator<UploadArtifactRequest> {
    yield create(UploadArtifactRequestSchema, {
      part: { case: "header", value: { token: upload.token, path: upload.path ?? "", mime: upload.mime ?? "" } },
    });
    const hash = createHash("sha256");
    let size = 0;
    const body = upload.body instanceof Uint8Array ? [upload.body] : upload.body;
    for await (const chunk of body) {
      hash.update(chunk);
      size += chunk.byteLength;
      yield create(UploadArtifactRequestSchema, { part: { case: "chunk", value: chunk } });
      await upload.onChunk?.(size);
    }
    const trailer =
      upload.trailer === undefined ? { sizeBytes: BigInt(size), sha256: hash.digest("hex") } : upload.trailer;
    if (trailer) yield create(UploadArtifactRequestSchema, { part: { case: "trailer", value: trailer } });
  }
  return client.uploadArtifact(messages(), upload.signal ? { signal: upload.signal } : {});
}

export interface HttpReply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  json: Record<string, unknown> | undefined;
}

export interface HttpUpload {
  port: number;
  path?: string;
  token?: string;
  headers?: Record<string, string | number>;
  body: AsyncIterable<Uint8Array> | Uint8Array;
  method?: string;
  /** Called as the body is written; return "abort" to cut the connection there. */
  onChunk?: (sentBytes: number) => Promise<"abort" | undefined> | "abort" | undefined;
}

/** POST /upload with node:http, streaming the body with backpressure. */
export function uploadOverHttp(upload: HttpUpload): Promise<HttpReply> {
  const query = upload.path === undefined ? "" : `?path=${encodeURIComponent(upload.path)}`;
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: "127.0.0.1",
      port: upload.port,
      method: upload.method ?? "POST",
      path: `/upload${query}`,
      headers: {
        ...(upload.token !== undefined && { authorization: `Bearer ${upload.token}` }),
        ...upload.headers,
      },
      agent: false,
    });
    let answered = false;
    req.on("response", (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        let json: Record<string, unknown> | undefined;
        try {
          json = JSON.parse(text) as Record<string, unknown>;
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text, json });
      });
    });
    req.on("error", (err) => {
      if (!answered) reject(err);
    });
    (async () => {
      const body = upload.body instanceof Uint8Array ? [upload.body] : upload.body;
      let sent = 0;
      for await (const chunk of body) {
        if (answered || req.destroyed) return;
        sent += chunk.byteLength;
        if (!req.write(chunk)) await drained(req);
        if ((await upload.onChunk?.(sent)) === "abort") {
          req.destroy();
          resolve({ status: 0, headers: {}, body: "aborted by test", json: undefined });
          return;
        }
      }
      req.end();
    })().catch(reject);
  });
}

function drained(req: http.ClientRequest): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      req.off("drain", done);
      req.off("close", done);
      resolve();
    };
    req.on("drain", done);
    req.on("close", done);
  });
}

export function sha256Hex(data: Uint8Array | string): string {
  return createHash("sha256").update(data).digest("hex");
}

/** Downloads over the socket and returns the artifact plus the sha256 and size of what arrived. */
export async function downloadDigest(
  client: Client<typeof ArtifactService>,
  request: Parameters<Client<typeof ArtifactService>["downloadArtifact"]>[0],
): Promise<{ artifactSha256: string; artifactSize: bigint; sha256: string; size: number; id: bigint }> {
  const hash = createHash("sha256");
  let size = 0;
  let header: { sha256: string; sizeBytes: bigint; id: bigint } | undefined;
  for await (const message of client.downloadArtifact(request)) {
    if (message.part.case === "artifact") header = message.part.value;
    else if (message.part.case === "chunk") {
      hash.update(message.part.value);
      size += message.part.value.byteLength;
    }
  }
  if (!header) throw new Error("download sent no artifact message");
  return {
    artifactSha256: header.sha256,
    artifactSize: header.sizeBytes,
    sha256: hash.digest("hex"),
    size,
    id: header.id,
  };
}
