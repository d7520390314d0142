import * as http from "node:http";
import * as http2 from "node:http2";
import * as net from "node:net";
import { dispatchByFirstBytes } from "@agentlab/core/connection-dispatch";
import { createErrorMappingInterceptor, httpStatusFor } from "@agentlab/core/errors";
import { registeredServiceNames, registerHealthService } from "@agentlab/core/health-service";
import type { HttpRoutes } from "@agentlab/core/listener";
import type { Logger } from "@agentlab/core/logger";
import { createRequestContextInterceptor } from "@agentlab/core/request-context";
import { type ConnectRouter, createContextValues } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { pino } from "pino";
import { sourceAddressKey } from "./source-address.js";

// TODO(core): this file exists because @agentlab/core's listen() cannot yet tell a Connect handler
// the caller's address (it would need connectNodeAdapter's `contextValues`). Once it can, replace
// listenGuest() with listen({ endpoint: { tcp }, connectRoutes, httpRoutes, contextValues }).

export interface GuestListenerOptions {
  host: string;
  port: number;
  connectRoutes: (router: ConnectRouter) => void;
  httpRoutes: HttpRoutes;
  /** Largest Connect message; upload chunks are at most 1 MiB. */
  readMaxBytes?: number;
  logger?: Logger;
  shutdownGraceMs?: number;
}

export interface GuestListener {
  address: string;
  port: number;
  close(): Promise<void>;
}

/** Uploads stall at HTTP/2's 64 KiB default window; these let a stream run at disk speed. */
const HTTP2_STREAM_WINDOW_BYTES = 4 * 1024 * 1024;
const HTTP2_SESSION_WINDOW_BYTES = 16 * 1024 * 1024;
const DEFAULT_SHUTDOWN_GRACE_MS = 5000;

/**
 * The guest-facing listener (artifact_listen): HTTP/2 and HTTP/1.1 on one TCP port, dispatched on
 * the first bytes, with every Connect call told its source address so the guard can check it.
 */
export async function listenGuest(options: GuestListenerOptions): Promise<GuestListener> {
  const logger = options.logger ?? pino({ level: "silent" });
  let served = new Set<string>();
  const connectHandler = connectNodeAdapter({
    routes(router) {
      options.connectRoutes(router);
      served = registeredServiceNames(router);
      registerHealthService(router, () => served);
    },
    interceptors: [createRequestContextInterceptor({ logger }), createErrorMappingInterceptor()],
    contextValues: (req) => createContextValues().set(sourceAddressKey, req.socket.remoteAddress),
    ...(options.readMaxBytes !== undefined && { readMaxBytes: options.readMaxBytes }),
  });

  const sockets = new Set<net.Socket>();
  const busy = new Map<net.Socket, number>();
  const sessions = new Set<http2.ServerHttp2Session>();
  const h2Sockets = new Set<net.Socket>();
  let closing = false;

  const h1Server = http.createServer((req, res) => {
    busy.set(req.socket, (busy.get(req.socket) ?? 0) + 1);
    res.once("close", () => {
      const left = (busy.get(req.socket) ?? 1) - 1;
      busy.set(req.socket, left);
      if (closing && left === 0) req.socket.destroy();
    });
    if (req.url === "/healthz" && req.method === "GET") {
      res.writeHead(200, { "content-type": "text/plain; charset=utf-8" }).end("ok");
      return;
    }
    try {
      if (options.httpRoutes(req, res)) return;
    } catch (err) {
      const { status, body, headers } = httpStatusFor(err);
      res.writeHead(status, { ...headers, "content-type": "application/json" }).end(JSON.stringify(body));
      return;
    }
    connectHandler(req, res);
  });
  const h2Server = http2.createServer({ settings: { initialWindowSize: HTTP2_STREAM_WINDOW_BYTES } }, (req, res) => {
    // A refused upload is answered while the client is still sending. Reset such a stream once the
    // answer (trailers) is queued, so the client stops sending and the stream does not linger until
    // shutdown. CANCEL rather than RFC 9113's NO_ERROR: Node delays a NO_ERROR reset until the
    // writable side reports 'finish', which does not happen while the peer keeps sending. The compat
    // layer answers 'wantTrailers' first (registered earlier); the reset goes out on the next turn.
    const stream = req.stream;
    stream.once("wantTrailers", () =>
      setImmediate(() => {
        if (!req.readableEnded && !stream.closed) stream.close(http2.constants.NGHTTP2_CANCEL);
      }),
    );
    connectHandler(req, res);
  });
  h2Server.on("session", (session) => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
    session.on("error", (err) => logger.debug({ err }, "http2 session error"));
    session.setLocalWindowSize(HTTP2_SESSION_WINDOW_BYTES);
  });

  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.once("close", () => {
      sockets.delete(socket);
      busy.delete(socket);
      h2Sockets.delete(socket);
    });
    socket.on("error", (err) => logger.debug({ err }, "connection error"));
    if (closing) {
      socket.destroy();
      return;
    }
    dispatchByFirstBytes(socket, (protocol) => {
      if (protocol === "http2") {
        // No resume() here: the HTTP/2 session feeds itself the bytes put back on the socket on the
        // next tick (socket.read()); resuming first would flow them to no listener and the session
        // would see a connection without its preface.
        h2Sockets.add(socket);
        h2Server.emit("connection", socket);
      } else {
        h1Server.emit("connection", socket);
        socket.resume();
      }
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", (err) =>
      reject(
        new Error(`cannot listen on ${options.host}:${options.port} (artifact_listen): ${err.message}`, { cause: err }),
      ),
    );
    server.listen({ host: options.host, port: options.port }, () => resolve());
  });
  const bound = server.address() as net.AddressInfo;

  return {
    address: `${bound.family === "IPv6" ? `[${bound.address}]` : bound.address}:${bound.port}`,
    port: bound.port,
    async close() {
      if (closing) return;
      closing = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const session of sessions) session.close();
      for (const socket of sockets) if ((busy.get(socket) ?? 0) === 0 && !h2Sockets.has(socket)) socket.destroy();
      const grace = setTimeout(() => {
        for (const socket of sockets) socket.destroy();
      }, options.shutdownGraceMs ?? DEFAULT_SHUTDOWN_GRACE_MS);
      grace.unref();
      await closed;
      clearTimeout(grace);
    },
  };
}
