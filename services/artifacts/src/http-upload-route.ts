import type { IncomingMessage, ServerResponse } from "node:http";
import { httpStatusFor, InvalidArgumentError, UnauthenticatedError } from "@agentlab/core/errors";
import type { HttpRoutes } from "@agentlab/core/listener";
import { Code, ConnectError } from "@connectrpc/connect";
import { storeUpload } from "./artifact-uploader.js";
import type { GuestArtifactsDeps } from "./artifacts-deps.js";
import { UploadTooLargeError } from "./upload-verifier.js";

export const UPLOAD_ROUTE_PATH = "/upload";
export const CONTENT_SHA256_HEADER = "x-content-sha256";
/**
 * After refusing an upload we keep reading (and discarding) up to this much of its body, so the
 * client reads our answer instead of a connection reset; past it the connection is cut.
 */
const DISCARD_LIMIT_BYTES = 16 * 1024 * 1024;

/**
 * POST /upload?path=<rel> for guests that only have curl: `Authorization: Bearer <token>`, the raw
 * file as the body, optional `X-Content-SHA256`. Replies 201 with the stored artifact as JSON.
 */
export function httpUploadRoute(deps: GuestArtifactsDeps): HttpRoutes {
  return (req, res) => {
    const url = new URL(req.url ?? "/", "http://artifacts.invalid");
    if (url.pathname !== UPLOAD_ROUTE_PATH) return false;
    if (req.method !== "POST") {
      sendJson(
        res,
        405,
        { error: `${req.method} is not allowed on ${UPLOAD_ROUTE_PATH}; use POST` },
        { allow: "POST" },
      );
      return true;
    }
    handleUpload(deps, req, res, url).catch((err: unknown) => sendError(deps, req, res, err));
    return true;
  };
}

async function handleUpload(deps: GuestArtifactsDeps, req: IncomingMessage, res: ServerResponse, url: URL) {
  const source = req.socket.remoteAddress;
  deps.guard.checkSource(source);
  const token = bearerToken(req.headers.authorization);
  deps.guard.checkToken(token);
  const declaredSize = contentLength(req.headers["content-length"]);
  const claimedSha256 = headerValue(req.headers[CONTENT_SHA256_HEADER]);
  // The response closing before we answered means the client went away: do not commit its upload.
  const gone = new AbortController();
  res.once("close", () => {
    if (!res.writableEnded) gone.abort(new ConnectError("the client disconnected during the upload", Code.Canceled));
  });
  const result = await storeUpload(deps, {
    token,
    path: url.searchParams.get("path") ?? "",
    mime: headerValue(req.headers["content-type"]),
    sourceAddress: source ?? "unknown",
    ...(declaredSize !== undefined && { declaredSize }),
    body: requestBody(req),
    expected: () => ({
      ...(declaredSize !== undefined && { sizeBytes: declaredSize }),
      ...(claimedSha256 !== undefined && { sha256: claimedSha256 }),
    }),
    signal: gone.signal,
  });
  const a = result.artifact;
  sendJson(res, 201, {
    job_id: result.jobId,
    artifact: {
      id: Number(a.id),
      name: a.name,
      path: a.path,
      size_bytes: Number(a.sizeBytes),
      sha256: a.sha256,
      mime: a.mime,
    },
  });
}

async function* requestBody(req: IncomingMessage): AsyncGenerator<Uint8Array> {
  // destroyOnReturn false: when an upload is refused mid-body the socket must survive long enough
  // to carry the answer (see discardRest).
  for await (const chunk of req.iterator({ destroyOnReturn: false })) yield chunk as Buffer;
  // A body cut short (client killed, connection lost) ends the iteration on some Node versions
  // instead of failing it; an incomplete body must never be stored.
  if (!req.complete) throw new ConnectError("the client disconnected during the upload", Code.Canceled);
}

function bearerToken(header: string | undefined): string {
  if (!header) {
    throw new UnauthenticatedError({
      message: "upload token missing",
      hint: "send the upload token from the bootstrap payload as Authorization: Bearer <token>",
    });
  }
  const match = /^Bearer[ ]+(\S+)\s*$/i.exec(header);
  if (!match?.[1]) {
    throw new UnauthenticatedError({
      message: "Authorization header is not a bearer token",
      hint: "send Authorization: Bearer <token>",
    });
  }
  return match[1];
}

function contentLength(header: string | undefined): number | undefined {
  if (header === undefined) return undefined;
  if (!/^\d{1,16}$/.test(header)) {
    throw new InvalidArgumentError({
      message: "Content-Length is not a byte count",
      what: "Content-Length",
      value: header,
    });
  }
  return Number(header);
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function sendError(deps: GuestArtifactsDeps, req: IncomingMessage, res: ServerResponse, err: unknown): void {
  const mapped = httpStatusFor(err);
  const status = err instanceof UploadTooLargeError ? 413 : mapped.status;
  if (status >= 500) deps.logger?.error({ err, path: req.url }, "upload failed");
  else deps.logger?.info({ code: mapped.body.code, error: mapped.body.error }, "upload refused");
  if (res.headersSent || res.destroyed) {
    res.destroy();
    return;
  }
  discardRest(req);
  sendJson(res, status, mapped.body, mapped.headers);
}

/**
 * Reads and drops what is left of a refused body (never touching the disk), so a client still
 * sending gets our answer rather than a reset; a client that keeps sending far past that is cut off.
 */
function discardRest(req: IncomingMessage): void {
  if (req.complete || req.destroyed) return;
  let discarded = 0;
  req.on("data", (chunk: Buffer) => {
    discarded += chunk.length;
    if (discarded > DISCARD_LIMIT_BYTES) req.socket.destroy();
  });
  req.on("error", () => undefined);
  req.resume();
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
  });
  res.end(text);
}
