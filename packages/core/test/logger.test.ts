import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { Health, HealthCheckResponse_ServingStatus } from "@agentlab/api/gen/grpc/health/v1/health_pb";
import { createClient, createRouterTransport } from "@connectrpc/connect";
import { afterAll, describe, expect, it } from "vitest";
import {
  createLogger,
  createPeerTransport,
  createRequestContextInterceptor,
  currentRequestId,
  listen,
  REQUEST_ID_HEADER,
  redactSecrets,
  runWithRequestId,
} from "../src/index.js";

/** A destination that keeps every JSON line written to it. */
function captureLines() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _encoding, callback) {
      for (const line of String(chunk).split("\n")) if (line) lines.push(JSON.parse(line));
      callback();
    },
  });
  return { lines, stream };
}

describe("createLogger", () => {
  it("writes JSON lines with a level word, ISO time and the service", () => {
    const { lines, stream } = captureLines();
    createLogger({ service: "control", destination: stream }).error({ vmid: 1001 }, "clone failed");
    expect(lines[0]).toMatchObject({ level: "error", service: "control", vmid: 1001, msg: "clone failed" });
    expect(String(lines[0]?.time)).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
  });

  it("redacts secret-bearing fields at the top level and nested", () => {
    const { lines, stream } = captureLines();
    createLogger({ service: "runner", destination: stream }).info(
      {
        token: "t0",
        proxmox_api_token: "root@pam!x=secret",
        control_auth_token: "c1",
        internal_token: "i1",
        password: "p1",
        req: { headers: { authorization: "Bearer abc", cookie: "sid=1", "set-cookie": "sid=2" } },
        job: { spec: { env: { GITHUB_TOKEN: "ghp_x", PLAIN: "also hidden" }, report_token: "r1", repo: "kept" } },
        bundle: { git_credentials: "https://u:p@host", private_key: "-----BEGIN" },
      },
      "x",
    );
    const text = JSON.stringify(lines[0]);
    for (const secret of [
      "t0",
      "root@pam!x=secret",
      "c1",
      "i1",
      "p1",
      "Bearer abc",
      "sid=1",
      "sid=2",
      "ghp_x",
      "also hidden",
      "r1",
      "u:p@host",
      "BEGIN",
    ]) {
      expect(text).not.toContain(secret);
    }
    expect(text).toContain('"repo":"kept"');
    expect(text).toContain("[REDACTED]");
  });

  it("includes the current request id", () => {
    const { lines, stream } = captureLines();
    const logger = createLogger({ service: "control", destination: stream });
    runWithRequestId("req-42", () => logger.info("inside"));
    logger.info("outside");
    expect(lines[0]?.request_id).toBe("req-42");
    expect(lines[1]?.request_id).toBeUndefined();
  });
});

describe("redactSecrets", () => {
  it("replaces known secret values in free text, longest first", () => {
    expect(redactSecrets("push https://x:ghp_abcdef@h with ghp_abc", ["ghp_abc", "ghp_abcdef", undefined, ""])).toBe(
      "push https://x:[REDACTED]@h with [REDACTED]",
    );
  });
});

describe("request id propagation", () => {
  const dir = mkdtempSync(join(tmpdir(), "al-rid-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("carries the caller's id from service A to service B and into both logs", async () => {
    const logB = captureLines();
    const serviceB = await listen({
      endpoint: { unix: { path: join(dir, "b.sock") } },
      connectRoutes: () => {},
      logger: createLogger({ service: "b", destination: logB.stream }),
    });
    try {
      const logA = captureLines();
      const loggerA = createLogger({ service: "a", destination: logA.stream });
      const clientOfB = createClient(Health, createPeerTransport(`unix://${serviceB.address}`, { protocol: "grpc" }));
      let idSeenInA: string | undefined;
      // Service A in memory: its Health.Check asks B, so the id must cross a real socket.
      const serviceA = createRouterTransport(
        (router) => {
          router.service(Health, {
            async check() {
              idSeenInA = currentRequestId();
              loggerA.info("asking b");
              return clientOfB.check({ service: "" });
            },
          });
        },
        { router: { interceptors: [createRequestContextInterceptor({ logger: loggerA })] } },
      );
      const res = await createClient(Health, serviceA).check(
        { service: "" },
        { headers: { [REQUEST_ID_HEADER]: "cli-7f3a" } },
      );
      expect(res.status).toBe(HealthCheckResponse_ServingStatus.SERVING);
      expect(idSeenInA).toBe("cli-7f3a");
      expect(logA.lines.find((l) => l.msg === "asking b")?.request_id).toBe("cli-7f3a");
      const rpcLineB = logB.lines.find((l) => l.msg === "rpc");
      expect(rpcLineB).toMatchObject({ request_id: "cli-7f3a", method: "/grpc.health.v1.Health/Check", code: "ok" });
      expect(typeof rpcLineB?.duration_ms).toBe("number");
    } finally {
      await serviceB.close();
    }
  });

  it("mints an id when the caller sends none and returns it in the response header", async () => {
    const transport = createRouterTransport(
      (router) => {
        router.service(Health, { check: () => ({ status: HealthCheckResponse_ServingStatus.SERVING }) });
      },
      {
        router: {
          interceptors: [
            createRequestContextInterceptor({
              logger: createLogger({ service: "t", level: "silent" }),
              newRequestId: () => "minted-1",
            }),
          ],
        },
      },
    );
    let header: string | null = null;
    await createClient(Health, transport).check({}, { onHeader: (h) => (header = h.get(REQUEST_ID_HEADER)) });
    expect(header).toBe("minted-1");
  });
});
