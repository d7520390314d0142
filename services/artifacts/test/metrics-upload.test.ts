import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ArtifactRegistryService } from "@agentlab/api";
import { InvalidArgumentError } from "@agentlab/core/errors";
import { type Listener, listen } from "@agentlab/core/listener";
import { createMetricsRegistry } from "@agentlab/core/metrics/metrics-registry";
import { createPeerTransport } from "@agentlab/core/peer-transport";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { pino } from "pino";
import type { Registry } from "prom-client";
import { afterEach, describe, expect, it } from "vitest";
import { type ArtifactsServer, startArtifactsServer } from "../src/artifacts-server.js";
import { createUploadMetrics, uploadFailureReason } from "../src/metrics/upload-metrics.js";
import { UploadTooLargeError } from "../src/upload-verifier.js";
import { sha256Hex, uploadOverHttp } from "./support/harness.js";
import { TestRegistry } from "./support/test-registry.js";

interface Sample {
  labels: Record<string, string | number>;
  value: number;
  metricName?: string;
}

async function sample(registry: Registry, name: string, labels: Record<string, string> = {}, metricName = name) {
  const metric = registry.getSingleMetric(name);
  if (!metric) throw new Error(`${name} is not registered`);
  const values = (await metric.get()).values as Sample[];
  return (
    values.find(
      (s) =>
        (s.metricName === undefined || s.metricName === metricName) &&
        Object.entries(labels).every(([k, v]) => String(s.labels[k]) === v),
    )?.value ?? 0
  );
}

describe("upload failure reasons", () => {
  it.each([
    [new UploadTooLargeError(10, 11, "sent"), "too_large"],
    [new InvalidArgumentError({ message: "sha256 mismatch", what: "sha256", value: "ab" }), "verify_failed"],
    [new InvalidArgumentError({ message: "size mismatch", what: "size_bytes", value: 3 }), "verify_failed"],
    [new InvalidArgumentError({ message: "bad path", what: "path", value: "../x" }), "invalid_argument"],
    [new ConnectError("control AuthorizeUpload: token expired", Code.Unauthenticated), "unauthenticated"],
    [new ConnectError("client went away", Code.Canceled), "canceled"],
    [new ConnectError("control RecordArtifact: down", Code.Unavailable), "unavailable"],
    [new Error("EIO"), "internal"],
  ])("names %s as %s", (err, reason) => {
    expect(uploadFailureReason(err)).toBe(reason);
  });

  it("times a stored upload, adds its bytes, and counts a failure by reason", async () => {
    const registry = createMetricsRegistry("artifacts", { defaultMetrics: false });
    let clock = 0;
    const metrics = createUploadMetrics(registry, () => clock);
    const stored = await metrics.observe(
      async () => {
        clock += 1500;
        return { size: 4096n };
      },
      (r) => r.size,
    );
    expect(stored).toEqual({ size: 4096n });
    const refused = metrics.observe(
      async () => {
        clock += 20;
        throw new UploadTooLargeError(10, 11, "sent");
      },
      () => 0,
    );
    await expect(refused).rejects.toBeInstanceOf(UploadTooLargeError);

    const duration = "agentlab_artifacts_upload_duration_seconds";
    expect(await sample(registry, "agentlab_artifacts_upload_bytes_total")).toBe(4096);
    expect(await sample(registry, duration, { outcome: "stored" }, `${duration}_sum`)).toBe(1.5);
    expect(await sample(registry, duration, { outcome: "stored", le: "1" }, `${duration}_bucket`)).toBe(0);
    expect(await sample(registry, duration, { outcome: "stored", le: "2.5" }, `${duration}_bucket`)).toBe(1);
    expect(await sample(registry, duration, { outcome: "failed" }, `${duration}_count`)).toBe(1);
    expect(await sample(registry, "agentlab_artifacts_upload_failures_total", { reason: "too_large" })).toBe(1);
  });
});

describe("upload metrics through the artifacts server", () => {
  let dir: string | undefined;
  let control: Listener | undefined;
  let server: ArtifactsServer | undefined;
  afterEach(async () => {
    await server?.close();
    await control?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
    server = undefined;
    control = undefined;
    dir = undefined;
  });

  it("counts a stored POST /upload and a checksum mismatch on a registry it was given", async () => {
    dir = await mkdtemp(join(tmpdir(), "al-art-metrics-"));
    const registryFake = new TestRegistry();
    registryFake.addToken("tok-metrics", "job_00000000000000dd");
    control = await listen({
      endpoint: { unix: { path: join(dir, "control.sock") } },
      connectRoutes: registryFake.routes,
    });
    const metrics = createMetricsRegistry("agentlabd", { defaultMetrics: false });
    server = await startArtifactsServer({
      artifactDir: join(dir, "artifacts"),
      socketPath: join(dir, "artifacts.sock"),
      guestListen: { host: "127.0.0.1", port: 0 },
      agentSubnet: "127.0.0.0/8",
      maxBytes: 1024 * 1024,
      rateLimit: { qps: 0, burst: 0 },
      registry: createClient(
        ArtifactRegistryService,
        createPeerTransport(`unix://${join(dir, "control.sock")}`, { protocol: "connect" }),
      ),
      logger: pino({ level: "silent" }),
      metrics,
    });
    const port = server.guestPort ?? 0;
    const body = Buffer.from("diff --git a/f b/f\n");

    const ok = await uploadOverHttp({
      port,
      token: "tok-metrics",
      path: "changes.patch",
      body,
      headers: { "x-content-sha256": sha256Hex(body), "content-length": body.length },
    });
    expect(ok.status).toBe(201);
    const bad = await uploadOverHttp({
      port,
      token: "tok-metrics",
      path: "report.json",
      body,
      headers: { "x-content-sha256": sha256Hex("something else"), "content-length": body.length },
    });
    expect(bad.status).toBe(400);

    const text = await metrics.metrics();
    expect(text).toContain(`agentlab_artifacts_upload_bytes_total{service="agentlabd"} ${body.length}`);
    expect(text).toContain('agentlab_artifacts_upload_failures_total{reason="verify_failed",service="agentlabd"} 1');
    const duration = "agentlab_artifacts_upload_duration_seconds";
    expect(await sample(metrics, duration, { outcome: "stored" }, `${duration}_count`)).toBe(1);
    expect(await sample(metrics, duration, { outcome: "failed" }, `${duration}_count`)).toBe(1);
  });
});
