import { rmSync } from "node:fs";
import * as http from "node:http";
import * as http2 from "node:http2";
import * as net from "node:net";
import * as tls from "node:tls";
import { type ConnectRouter, createContextKey, createContextValues, type Interceptor } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { type Logger, pino } from "pino";
import { formatHostPort } from "./config/network-address.js";
import { dispatchByFirstBytes } from "./connection-dispatch.js";
import { createErrorMappingInterceptor, httpStatusFor } from "./errors.js";
import { registeredServiceNames, registerHealthService } from "./health-service.js";
import { createRequestContextInterceptor } from "./request-context.js";
import { applySocketOwnership, checkUnixSocketPathLength, removeStaleSocket } from "./unix-socket-file.js";
import { versionLine } from "./version.js";

export type ListenEndpoint =
  | { tcp: { host: string; port: number } }
  | { unix: { path: string; mode?: number; group?: string } };

/** A plain HTTP/1.1 route (POST /upload, /metrics); returns true when it handled the request. */
export type HttpRoutes = (req: http.IncomingMessage, res: http.ServerResponse) => boolean;

export interface ListenOptions {
  endpoint: ListenEndpoint;
  /** Registers the Connect services; grpc.health.v1.Health is added for all of them. */
  connectRoutes: (router: ConnectRouter) => void;
  httpRoutes?: HttpRoutes;
  /** Server interceptors (auth, rate limits), run inside request-id logging and error mapping. */
  interceptors?: Interceptor[];
  /** Largest Connect/gRPC message accepted, in bytes. */
  maxBodyBytes?: number;
  /**
   * HTTP/2 receive window per stream: how much a client may send ahead of what a handler has
   * read, and so what one slow upload can hold in this process. Default 4 MiB.
   */
  http2StreamWindowBytes?: number;
  logger?: Logger;
  /** How long close() lets in-flight calls finish before cutting connections. */
  shutdownGraceMs?: number;
  /** group(5) file used to resolve `unix.group`; injectable for tests. */
  groupFile?: string;
  /**
   * TLS for a TCP listener (control_listen off loopback): PEM certificate chain and key. The
   * protocol is then chosen by ALPN (h2 or http/1.1) instead of by the first bytes.
   */
  tls?: { cert: string | Buffer; key: string | Buffer };
}

export interface Listener {
  /** `host:port` for TCP, the socket path for Unix. */
  address: string;
  port?: number;
  /** Stops accepting, ends HTTP/2 sessions with GOAWAY, drops idle HTTP/1.1 connections, removes the socket. */
  close(): Promise<void>;
}

export const DEFAULT_UNIX_SOCKET_MODE = 0o660;
/** Every response names the build that served it, so control can report its peers' versions. */
export const VERSION_HEADER = "x-agentlab-version";
/** The caller's address (`req.socket.remoteAddress`; undefined on Unix sockets), for handlers. */
export const remoteAddressKey = createContextKey<string | undefined>(undefined, { description: "remote address" });
const DEFAULT_SHUTDOWN_GRACE_MS = 5000;
/** Flow-control windows sized for streamed uploads (the HTTP/2 default of 64 KiB stalls them). */
const HTTP2_STREAM_WINDOW_BYTES = 4 * 1024 * 1024;
const HTTP2_SESSION_WINDOW_BYTES = 16 * 1024 * 1024;
const HTTP1_IDLE_TIMEOUT_MS = 120_000;

/**
 * One listening socket (TCP or Unix) that speaks gRPC, gRPC-web and Connect over HTTP/2 and Connect
 * plus plain routes over HTTP/1.1, dispatching each connection on its first bytes.
 */
export async function listen(options: ListenOptions): Promise<Listener> {
  const logger = options.logger ?? pino({ level: "silent" });
  let servedServices = new Set<string>();
  const shutdown = new AbortController();
  const connectHandler = connectNodeAdapter({
    routes(router) {
      options.connectRoutes(router);
      registerHealthService(router, () => servedServices, shutdown.signal);
      servedServices = registeredServiceNames(router);
    },
    interceptors: [
      createRequestContextInterceptor({ logger }),
      createErrorMappingInterceptor(),
      ...(options.interceptors ?? []),
    ],
    // Connect JSON uses the proto field names (snake_case), as the CLI's --output json does (DESIGN §1).
    // Readers still accept either spelling, as protobuf JSON requires.
    jsonOptions: { useProtoFieldName: true },
    // Handlers that check where a call comes from (agent_subnet, a legacy guest's recorded IP) read it here.
    contextValues: (req) => createContextValues().set(remoteAddressKey, req.socket.remoteAddress),
    ...(options.maxBodyBytes !== undefined && { readMaxBytes: options.maxBodyBytes }),
  });

  const rawSockets = new Set<net.Socket>();
  const h1Connections = new Map<net.Socket, { activeRequests: number }>();
  const h2Sessions = new Set<http2.ServerHttp2Session>();
  let closing = false;

  const h1Server = http.createServer((req, res) => {
    const connection = h1Connections.get(req.socket);
    if (connection) {
      connection.activeRequests++;
      res.once("close", () => {
        connection.activeRequests--;
        if (closing && connection.activeRequests === 0) req.socket.destroy();
      });
    }
    if (closing) res.setHeader("connection", "close");
    res.setHeader(VERSION_HEADER, versionLine());
    if (serveHealthz(req, res)) return;
    try {
      if (options.httpRoutes?.(req, res)) return;
    } catch (err) {
      logger.error({ err, path: req.url }, "http route failed");
      const { status, body, headers } = httpStatusFor(err);
      if (!res.headersSent) res.writeHead(status, { ...headers, "content-type": "application/json" });
      res.end(JSON.stringify(body));
      return;
    }
    connectHandler(req, res);
  });
  h1Server.timeout = HTTP1_IDLE_TIMEOUT_MS;

  const streamWindow = options.http2StreamWindowBytes ?? HTTP2_STREAM_WINDOW_BYTES;
  const h2Server = http2.createServer({ settings: { initialWindowSize: streamWindow } }, (req, res) => {
    res.setHeader(VERSION_HEADER, versionLine());
    if (serveHealthz(req, res)) return;
    // A call refused while the client is still sending (an upload over its limit) is answered early.
    // Reset that stream once the answer's trailers are queued, so the client stops sending and the
    // stream does not hold the session open until shutdown. CANCEL rather than NO_ERROR: Node holds
    // a NO_ERROR reset until the writable side finishes, which never happens while the peer sends.
    const stream = req.stream;
    stream.once("wantTrailers", () =>
      setImmediate(() => {
        if (!req.readableEnded && !stream.closed) stream.close(http2.constants.NGHTTP2_CANCEL);
      }),
    );
    connectHandler(req, res);
  });
  h2Server.on("session", (session) => {
    h2Sessions.add(session);
    session.once("close", () => h2Sessions.delete(session));
    session.on("error", (err) => logger.debug({ err }, "http2 session error"));
    try {
      session.setLocalWindowSize(HTTP2_SESSION_WINDOW_BYTES);
    } catch (err) {
      logger.debug({ err }, "could not raise the HTTP/2 session window");
    }
  });

  const onConnection = (socket: net.Socket) => {
    rawSockets.add(socket);
    socket.once("close", () => {
      rawSockets.delete(socket);
      h1Connections.delete(socket);
    });
    socket.on("error", (err) => logger.debug({ err }, "connection error"));
    if (closing) {
      socket.destroy();
      return;
    }
    const handOff = (protocol: "http2" | "http1", firstBytes?: Buffer) => {
      if (protocol === "http2") {
        // The session reads the bytes put back on the next tick; resuming here would drop them.
        h2Server.emit("connection", socket);
      } else {
        h1Connections.set(socket, { activeRequests: 0 });
        h1Server.emit("connection", socket);
        if (firstBytes) {
          // The http server reads a fresh socket's handle directly and pauses that handle only on a
          // 'pause' event; after the dispatcher's reads, the socket stream can restart the handle
          // without one (a pending read-ahead), and request bodies then pile up unbounded while a
          // handler is busy. A 'data' listener makes the server parse what the socket stream
          // delivers instead, whose own high-water mark stops the handle: memory stays bounded.
          socket.on("data", parseThroughStream);
          // What the dispatcher read, as the socket's first data.
          socket.emit("data", firstBytes);
        } else {
          // A TLS socket has read nothing yet: resuming starts the flow before any request exists.
          socket.resume();
        }
      }
    };
    if (socket instanceof tls.TLSSocket) handOff(socket.alpnProtocol === "h2" ? "http2" : "http1");
    else dispatchByFirstBytes(socket, handOff);
  };
  const netServer: net.Server = options.tls
    ? tls.createServer(
        { cert: options.tls.cert, key: options.tls.key, ALPNProtocols: ["h2", "http/1.1"] },
        onConnection,
      )
    : net.createServer(onConnection);
  if (options.tls && !("tcp" in options.endpoint)) throw new Error("listen: TLS is for TCP listeners only");

  const { address, port, unixPath } = await bind(netServer, options, logger);

  async function close(): Promise<void> {
    if (closing) return;
    closing = true;
    shutdown.abort();
    const closed = new Promise<void>((resolve) => netServer.close(() => resolve()));
    for (const session of h2Sessions) session.close();
    for (const [socket, connection] of h1Connections) {
      if (connection.activeRequests === 0) socket.destroy();
    }
    // Sockets still mid-handshake (no bytes yet) belong to no server; nothing will end them.
    for (const socket of rawSockets) if (!h1Connections.has(socket) && socket.bytesRead === 0) socket.destroy();
    const grace = setTimeout(() => {
      for (const socket of rawSockets) socket.destroy();
    }, options.shutdownGraceMs ?? DEFAULT_SHUTDOWN_GRACE_MS);
    grace.unref();
    await closed;
    clearTimeout(grace);
    if (unixPath) rmSync(unixPath, { force: true });
  }

  return { address, ...(port !== undefined && { port }), close };
}

/** See the HTTP/1.1 hand-off in listen(): its presence is what matters, not what it does. */
function parseThroughStream(): void {}

function serveHealthz(
  req: http.IncomingMessage | http2.Http2ServerRequest,
  res: http.ServerResponse | http2.Http2ServerResponse,
): boolean {
  if (req.url !== "/healthz" || (req.method !== "GET" && req.method !== "HEAD")) return false;
  res.writeHead(200, { "content-type": "text/plain; charset=utf-8" });
  if (req.method === "HEAD") res.end();
  else res.end("ok");
  return true;
}

async function bind(
  server: net.Server,
  options: ListenOptions,
  logger: Logger,
): Promise<{ address: string; port?: number; unixPath?: string }> {
  const endpoint = options.endpoint;
  if ("tcp" in endpoint) {
    const { host, port } = endpoint.tcp;
    await listenOn(server, { host, port }, formatHostPort({ host, port }));
    const bound = server.address() as net.AddressInfo;
    return { address: formatHostPort({ host: bound.address, port: bound.port }), port: bound.port };
  }
  const { path, mode = DEFAULT_UNIX_SOCKET_MODE, group } = endpoint.unix;
  checkUnixSocketPathLength(path);
  await removeStaleSocket(path);
  await listenOn(server, { path }, path);
  try {
    applySocketOwnership(
      path,
      {
        mode,
        ...(group !== undefined && { group }),
        ...(options.groupFile !== undefined && { groupFile: options.groupFile }),
      },
      (message) => logger.warn({ socket: path }, message),
    );
  } catch (err) {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    throw err;
  }
  return { address: path, unixPath: path };
}

function listenOn(server: net.Server, target: net.ListenOptions, shown: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      const hint =
        err.code === "EADDRINUSE"
          ? "another process is using it; stop that process or choose another address"
          : err.code === "EACCES"
            ? "permission denied; ports below 1024 and some directories need privileges"
            : "check the address in the config";
      reject(new Error(`cannot listen on ${shown}: ${err.message}; ${hint}`, { cause: err }));
    };
    server.once("error", onError);
    server.listen(target, () => {
      server.removeListener("error", onError);
      resolve();
    });
  });
}
