import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import { isLoopbackHost, parseHostPort } from "../config/network-address.js";
import { InvalidArgumentError } from "../errors.js";
import { type HttpRoutes, type Listener, listen } from "../listener.js";

export const METRICS_PATH = "/metrics";

/** What a scrape reads: a prom-client Registry, or several joined (agentlabd's runner thread). */
export type MetricsSource = Pick<Registry, "metrics" | "contentType">;

export interface ServeMetricsOptions {
  /** `host:port` (config `metrics_listen`); the host must be loopback. Port 0 picks a free one. */
  listen: string;
  registry: MetricsSource;
  logger?: Logger;
}

/**
 * Parses `metrics_listen` and refuses anything but loopback. Config validation already does this;
 * it is checked again here because metrics name jobs, repositories and error texts that no one
 * off the host should read, and embedding code can pass an address that never went through config.
 */
export function parseMetricsListen(address: string): { host: string; port: number } {
  const parsed = parseHostPort(address);
  if (!parsed || !isLoopbackHost(parsed.host)) {
    throw new InvalidArgumentError({
      message: `metrics_listen ${JSON.stringify(address)} is not a loopback host:port; metrics are never served off the host`,
      what: "metrics_listen",
      value: address,
      hint: "use a loopback address such as 127.0.0.1:8847, and let a local Prometheus agent or proxy forward it",
    });
  }
  return parsed;
}

/** GET/HEAD /metrics in the Prometheus text format (version 0.0.4), for any listener's httpRoutes. */
export function metricsRoutes(registry: MetricsSource, logger?: Logger): HttpRoutes {
  return (req, res) => {
    const path = new URL(req.url ?? "/", "http://metrics.invalid").pathname;
    if (path !== METRICS_PATH) return false;
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD", "content-type": "text/plain; charset=utf-8" });
      res.end(`${req.method} is not allowed on ${METRICS_PATH}; use GET\n`);
      return true;
    }
    writeScrape(registry, req, res, logger).catch((err: unknown) => {
      logger?.error({ err }, "metrics response failed");
      res.destroy();
    });
    return true;
  };
}

async function writeScrape(
  registry: MetricsSource,
  req: IncomingMessage,
  res: ServerResponse,
  logger: Logger | undefined,
): Promise<void> {
  let body: string;
  try {
    body = await registry.metrics();
  } catch (err) {
    // A collector that throws (the database closed during shutdown) fails this scrape only.
    logger?.warn({ err }, "metrics collection failed");
    if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain; charset=utf-8" });
    res.end("metrics collection failed; the service log has the details\n");
    return;
  }
  res.writeHead(200, { "content-type": registry.contentType, "content-length": Buffer.byteLength(body) });
  res.end(req.method === "HEAD" ? undefined : body);
}

/**
 * A loopback-only listener serving /metrics (and /healthz, which every core listener answers). It
 * speaks through core's listen() like every other socket, with no Connect services of its own.
 */
export async function serveMetrics(options: ServeMetricsOptions): Promise<Listener> {
  const { host, port } = parseMetricsListen(options.listen);
  const listener = await listen({
    endpoint: { tcp: { host, port } },
    connectRoutes: () => {},
    httpRoutes: metricsRoutes(options.registry, options.logger),
    ...(options.logger && { logger: options.logger }),
    // Scrapes are short; nothing is worth waiting for at shutdown.
    shutdownGraceMs: 1000,
  });
  options.logger?.info({ metrics: `http://${listener.address}${METRICS_PATH}` }, "metrics serving");
  return listener;
}
