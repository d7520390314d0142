import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import * as net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import {
  Health,
  HealthCheckRequestSchema,
  HealthCheckResponse_ServingStatus,
} from "@agentlab/api/gen/grpc/health/v1/health_pb";
import { create } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { pino } from "pino";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createPeerTransport, type Listener, listen } from "../src/index.js";

const execFileAsync = promisify(execFile);
const REPO_ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const HEALTH_PROTO = join(REPO_ROOT, "proto/grpc/health/v1/health.proto");

type GrpcHealthClient = grpc.Client & {
  check(req: { service: string }, cb: (err: grpc.ServiceError | null, res: { status: string }) => void): void;
};

function grpcJsHealthClient(target: string): GrpcHealthClient {
  const definition = protoLoader.loadSync(HEALTH_PROTO, { keepCase: true, enums: String, defaults: true });
  const loaded = grpc.loadPackageDefinition(definition) as unknown as {
    grpc: { health: { v1: { Health: new (target: string, creds: grpc.ChannelCredentials) => GrpcHealthClient } } };
  };
  return new loaded.grpc.health.v1.Health(target, grpc.credentials.createInsecure());
}

function grpcJsCheck(client: GrpcHealthClient, service: string): Promise<string> {
  return new Promise((resolve, reject) =>
    client.check({ service }, (err, res) => (err ? reject(err) : resolve(res.status))),
  );
}

async function curl(args: string[]): Promise<string> {
  const { stdout } = await execFileAsync("/usr/bin/curl", ["--silent", "--show-error", "--fail", ...args]);
  return stdout;
}

/** A route-less server: only Health (and the plain routes) — enough to exercise every transport. */
function plainRoutes(seen: string[]) {
  return (req: { method?: string; url?: string }, res: { writeHead(s: number): void; end(b: string): void }) => {
    if (req.url !== "/hello") return false;
    seen.push(`${req.method} ${req.url}`);
    res.writeHead(200);
    res.end("hello");
    return true;
  };
}

interface Target {
  name: string;
  start(): Promise<Listener>;
  /** The peer endpoint string and the grpc-js target for the started listener. */
  endpoint(l: Listener): string;
  grpcTarget(l: Listener): string;
  curlArgs(l: Listener, path: string): string[];
}

const dir = mkdtempSync(join(tmpdir(), "al-listen-"));
const seenPlain: string[] = [];

const targets: Target[] = [
  {
    name: "TCP 127.0.0.1",
    start: () =>
      listen({
        endpoint: { tcp: { host: "127.0.0.1", port: 0 } },
        connectRoutes: () => {},
        httpRoutes: plainRoutes(seenPlain),
      }),
    endpoint: (l) => `http://${l.address}`,
    grpcTarget: (l) => l.address,
    curlArgs: (l, path) => [`http://${l.address}${path}`],
  },
  {
    name: "Unix socket",
    start: () =>
      listen({
        endpoint: { unix: { path: join(dir, "core.sock") } },
        connectRoutes: () => {},
        httpRoutes: plainRoutes(seenPlain),
      }),
    endpoint: (l) => `unix://${l.address}`,
    grpcTarget: (l) => `unix://${l.address}`,
    curlArgs: (l, path) => ["--unix-socket", l.address, `http://localhost${path}`],
  },
];

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.each(targets)("listener on $name", (target) => {
  let listener: Listener;
  beforeAll(async () => {
    listener = await target.start();
  });
  afterAll(async () => {
    await listener.close();
  });

  it("answers Health to a grpc-js client loading the .proto at run time", async () => {
    const client = grpcJsHealthClient(target.grpcTarget(listener));
    try {
      expect(await grpcJsCheck(client, "")).toBe("SERVING");
      expect(await grpcJsCheck(client, "grpc.health.v1.Health")).toBe("SERVING");
      await expect(grpcJsCheck(client, "no.such.Service")).rejects.toMatchObject({ code: grpc.status.NOT_FOUND });
    } finally {
      client.close();
    }
  });

  it("answers Health to Connect over HTTP/1.1", async () => {
    const client = createClient(
      Health,
      createPeerTransport(target.endpoint(listener), { protocol: "connect", httpVersion: "1.1" }),
    );
    const res = await client.check(create(HealthCheckRequestSchema, { service: "" }));
    expect(res.status).toBe(HealthCheckResponse_ServingStatus.SERVING);
  });

  it("answers Health to gRPC and Connect over HTTP/2", async () => {
    for (const protocol of ["grpc", "connect"] as const) {
      const client = createClient(Health, createPeerTransport(target.endpoint(listener), { protocol }));
      const res = await client.check({ service: "" });
      expect(res.status).toBe(HealthCheckResponse_ServingStatus.SERVING);
    }
  });

  it("answers a Connect JSON POST from curl", async () => {
    const body = await curl([
      "-H",
      "content-type: application/json",
      "-d",
      "{}",
      ...target.curlArgs(listener, "/grpc.health.v1.Health/Check"),
    ]);
    expect(JSON.parse(body)).toEqual({ status: "SERVING" });
  });

  it("serves GET /healthz and plain routes over HTTP/1.1", async () => {
    expect(await curl(target.curlArgs(listener, "/healthz"))).toBe("ok");
    expect(await curl(target.curlArgs(listener, "/hello"))).toBe("hello");
    expect(seenPlain).toContain("GET /hello");
  });
});

describe("listener lifecycle", () => {
  const started: Listener[] = [];
  afterEach(async () => {
    await Promise.all(started.splice(0).map((l) => l.close()));
  });

  it("closes promptly while HTTP/2, HTTP/1.1 and silent clients stay connected", async () => {
    // A grace period longer than the test timeout: close() must finish without cutting connections by force.
    const listener = await listen({
      endpoint: { tcp: { host: "127.0.0.1", port: 0 } },
      connectRoutes: () => {},
      shutdownGraceMs: 3_600_000,
    });
    const grpcJs = grpcJsHealthClient(listener.address);
    const connectH2 = createClient(Health, createPeerTransport(`http://${listener.address}`, { protocol: "grpc" }));
    const connectH1 = createClient(
      Health,
      createPeerTransport(`http://${listener.address}`, { protocol: "connect", httpVersion: "1.1" }),
    );
    await grpcJsCheck(grpcJs, "");
    await connectH2.check({ service: "" });
    // An open Watch stream must end with the server, not hold close() up.
    const watch = connectH2.watch({ service: "" })[Symbol.asyncIterator]();
    expect((await watch.next()).value?.status).toBe(HealthCheckResponse_ServingStatus.SERVING);
    await connectH1.check({ service: "" });
    const silent = net.connect(listener.port ?? 0, "127.0.0.1");
    await new Promise((resolve) => silent.once("connect", resolve));
    await listener.close();
    expect((await watch.next()).done).toBe(true);
    grpcJs.close();
    silent.destroy();
  });

  it("creates the socket with mode 0660 and replaces a stale socket file", async () => {
    const path = join(dir, "stale.sock");
    // A process that bound the socket and exited without closing it leaves the file behind.
    await execFileAsync(process.execPath, [
      "-e",
      "require('node:net').createServer().listen(process.argv[1], () => process.exit(0))",
      path,
    ]);
    expect(statSync(path).isSocket()).toBe(true);

    const listener = await listen({ endpoint: { unix: { path } }, connectRoutes: () => {} });
    started.push(listener);
    expect(statSync(path).mode & 0o777).toBe(0o660);
    expect(await curl(["--unix-socket", path, "http://localhost/healthz"])).toBe("ok");
  });

  it("sets the socket's group when it exists and warns when it does not", async () => {
    const groupFile = join(dir, "group");
    writeFileSync(groupFile, "root:x:0:\nagentlab:x:4242:\n");
    const path = join(dir, "grouped.sock");
    started.push(await listen({ endpoint: { unix: { path, group: "agentlab" } }, connectRoutes: () => {}, groupFile }));
    expect(statSync(path).gid).toBe(4242);

    const warnings: string[] = [];
    const logger = pino({ level: "warn" }, { write: (line: string) => warnings.push(line) });
    const other = join(dir, "ungrouped.sock");
    started.push(
      await listen({
        endpoint: { unix: { path: other, group: "nosuchgroup" } },
        connectRoutes: () => {},
        groupFile,
        logger,
      }),
    );
    expect(warnings.join("")).toContain("group nosuchgroup does not exist");
  });

  it("refuses a socket path another server answers on", async () => {
    const path = join(dir, "live.sock");
    const first = await listen({ endpoint: { unix: { path } }, connectRoutes: () => {} });
    started.push(first);
    await expect(listen({ endpoint: { unix: { path } }, connectRoutes: () => {} })).rejects.toThrow(
      /another server is listening/,
    );
  });

  it("refuses a socket path longer than sun_path allows", async () => {
    const path = join(dir, "x".repeat(120), "s.sock");
    await expect(listen({ endpoint: { unix: { path } }, connectRoutes: () => {} })).rejects.toThrow(
      /longer than the 107/,
    );
  });

  it("removes the socket file on close", async () => {
    const path = join(dir, "gone.sock");
    const listener = await listen({ endpoint: { unix: { path, mode: 0o600 } }, connectRoutes: () => {} });
    expect(statSync(path).mode & 0o777).toBe(0o600);
    await listener.close();
    expect(() => statSync(path)).toThrow(/ENOENT/);
  });
});
