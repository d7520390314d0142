import * as http from "node:http";
import { Counter } from "prom-client";
import { afterEach, describe, expect, it } from "vitest";
import type { Listener } from "../src/listener.js";
import { createMetricsRegistry } from "../src/metrics/metrics-registry.js";
import { parseMetricsListen, serveMetrics } from "../src/metrics/metrics-server.js";

interface Scrape {
  status: number;
  contentType: string | undefined;
  body: string;
}

/** A plain node:http GET, as Prometheus scrapes; the agent is closed so no socket outlives the test. */
function get(address: string, path: string, method = "GET"): Promise<Scrape> {
  const agent = new http.Agent({ keepAlive: false });
  return new Promise<Scrape>((resolve, reject) => {
    const req = http.request(`http://${address}${path}`, { method, agent }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        body += chunk;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, contentType: res.headers["content-type"], body }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end();
  }).finally(() => agent.destroy());
}

describe("serveMetrics", () => {
  let listener: Listener | undefined;
  afterEach(async () => {
    await listener?.close();
    listener = undefined;
  });

  it("answers GET /metrics on 127.0.0.1 in the Prometheus text format, with the service label and process metrics", async () => {
    const registry = createMetricsRegistry("control");
    const counter = new Counter({ name: "agentlab_test_things_total", help: "things", registers: [registry] });
    counter.inc(3);
    listener = await serveMetrics({ listen: "127.0.0.1:0", registry });

    const scrape = await get(listener.address, "/metrics");
    expect(scrape.status).toBe(200);
    expect(scrape.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(scrape.body).toContain("# TYPE agentlab_test_things_total counter");
    expect(scrape.body).toContain('agentlab_test_things_total{service="control"} 3');
    expect(scrape.body).toContain("process_cpu_user_seconds_total");
    expect(scrape.body).toContain("nodejs_eventloop_lag_seconds");
  });

  it("answers /healthz and refuses other methods on /metrics", async () => {
    const registry = createMetricsRegistry("runner", { defaultMetrics: false });
    listener = await serveMetrics({ listen: "127.0.0.1:0", registry });

    const health = await get(listener.address, "/healthz");
    expect(health).toMatchObject({ status: 200, body: "ok" });
    const post = await get(listener.address, "/metrics", "POST");
    expect(post.status).toBe(405);
    const head = await get(listener.address, "/metrics", "HEAD");
    expect(head).toMatchObject({ status: 200, body: "" });
  });

  it("fails only the scrape when a collector throws", async () => {
    const registry = createMetricsRegistry("control", { defaultMetrics: false });
    new Counter({
      name: "agentlab_test_broken_total",
      help: "a collector that throws",
      registers: [registry],
      collect() {
        throw new Error("database is closed");
      },
    });
    listener = await serveMetrics({ listen: "127.0.0.1:0", registry });

    const scrape = await get(listener.address, "/metrics");
    expect(scrape.status).toBe(500);
    expect(scrape.body).not.toContain("database is closed");
    expect((await get(listener.address, "/healthz")).status).toBe(200);
  });

  it.each(["0.0.0.0:9100", "10.77.0.1:9100", "[::]:9100", ":9100", "metrics.example:9100", "127.0.0.1"])(
    "refuses the non-loopback or malformed address %s before binding",
    async (address) => {
      const registry = createMetricsRegistry("control", { defaultMetrics: false });
      await expect(serveMetrics({ listen: address, registry })).rejects.toThrow(/not a loopback host:port/);
    },
  );

  it("accepts every loopback form config accepts", () => {
    expect(parseMetricsListen("127.0.0.1:8847")).toEqual({ host: "127.0.0.1", port: 8847 });
    expect(parseMetricsListen("[::1]:8847")).toEqual({ host: "::1", port: 8847 });
    expect(parseMetricsListen("localhost:8847")).toEqual({ host: "localhost", port: 8847 });
  });
});
