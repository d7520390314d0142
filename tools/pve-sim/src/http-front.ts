import type { IncomingMessage, ServerResponse } from "node:http";
import { dispatchApi } from "./api-routes.js";
import { asPveError } from "./pve-error.js";
import { authInvalidToken, authNoSuchToken, authNoTicket } from "./pve-messages.js";
import type { ApiCall, SimContext } from "./sim-context.js";
import type { RequestLogEntry } from "./sim-state.js";

/**
 * The HTTP side of pveproxy as clients see it (reference/proxmox.md §1.1–§1.3): headers, token
 * auth with the delayed 401, form/JSON bodies merged with the query, the `{data}` envelope, the
 * reason phrase = first line of the message, `message` in error bodies on 8.3+.
 */
export type ControlHandler = (req: IncomingMessage, res: ServerResponse, body: string, url: URL) => Promise<void>;

const API_PREFIX = "/api2/json";

/** A reason phrase must be one latin-1 line (a stray CR would break the status line, §1.3). */
export function reasonPhrase(message: string): string {
  const first = message.split(/\r?\n|\r/)[0] ?? "";
  return first.replace(/[^\x20-\x7e\xa0-\xff]/g, "?");
}

function pveHeaders(res: ServerResponse, keepAlive: boolean): void {
  res.setHeader("Server", "pve-api-daemon/3.0");
  res.setHeader("Cache-Control", "max-age=0");
  res.setHeader("Pragma", "no-cache");
  // `keepAlive` (a benchmark knob) leaves the connection open; Node then says `keep-alive` itself.
  if (!keepAlive) res.setHeader("Connection", "close");
  res.setHeader("Expires", new Date(0).toUTCString());
}

export function sendJson(res: ServerResponse, status: number, reason: string, body: unknown, keepAlive = false): void {
  pveHeaders(res, keepAlive);
  const text = body === undefined ? "" : JSON.stringify(body);
  if (text) res.setHeader("Content-Type", "application/json;charset=UTF-8");
  res.setHeader("Content-Length", Buffer.byteLength(text));
  res.writeHead(status, reasonPhrase(reason));
  res.end(text);
}

export function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

/** `PVEAPIToken=<user>@<realm>!<tokenid>=<secret>`, split at the last `=` (§1.1). */
export function checkToken(
  header: string | undefined,
  tokens: Record<string, string>,
): { authId?: string; error?: string } {
  const m = /^PVEAPIToken[= ](.+)$/.exec(header ?? "");
  if (!m) return { error: authNoTicket };
  const value = m[1]!.trim();
  const cut = value.lastIndexOf("=");
  if (cut <= 0) return { error: authInvalidToken };
  const authId = value.slice(0, cut);
  const secret = value.slice(cut + 1);
  const bang = authId.indexOf("!");
  if (bang < 0) return { error: authInvalidToken };
  const expected = tokens[authId];
  if (expected === undefined) return { error: authNoSuchToken(authId.slice(bang + 1), authId.slice(0, bang)) };
  if (expected !== secret) return { error: authInvalidToken };
  return { authId };
}

function parseParams(req: IncomingMessage, body: string, url: URL): { params: Record<string, unknown>; json: boolean } {
  const params: Record<string, unknown> = {};
  const type = req.headers["content-type"] ?? "";
  let json = false;
  if (body.length > 0) {
    if (type.includes("application/json")) {
      json = true;
      const parsed = JSON.parse(body) as unknown;
      if (parsed && typeof parsed === "object") Object.assign(params, parsed);
    } else {
      for (const [k, v] of new URLSearchParams(body)) params[k] = v;
    }
  }
  // Query parameters are merged in and win (§1.1).
  for (const [k, v] of url.searchParams) params[k] = v;
  return { params, json };
}

export function createRequestListener(sim: SimContext, control: ControlHandler) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const body = await readBody(req).catch(() => "");
    if (url.pathname.startsWith("/__sim/")) {
      await control(req, res, body, url);
      return;
    }
    const method = (req.method ?? "GET").toUpperCase() as ApiCall["method"];
    const path = url.pathname.startsWith(API_PREFIX) ? url.pathname.slice(API_PREFIX.length) || "/" : url.pathname;
    const entry: RequestLogEntry = {
      seq: sim.state.requests.length + 1,
      time: sim.clock.now(),
      source: "api",
      method,
      path,
      params: {},
      authId: undefined,
      status: 0,
      reason: "",
    };
    sim.state.requests.push(entry);
    const reply = (status: number, reason: string, payload: unknown): void => {
      entry.status = status;
      entry.reason = reasonPhrase(reason);
      sendJson(res, status, reason, payload, sim.options.keepAlive);
    };
    for (const effect of sim.faults.take("request", { method, path })) {
      if (effect.type === "reset") {
        entry.status = -1;
        req.socket.destroy();
        return;
      }
      if (effect.type === "hang") {
        entry.status = -2;
        return;
      }
      if (effect.type === "delay") await sim.clock.sleep(sim.scaled(effect.ms));
      if (effect.type === "http") {
        reply(effect.status, effect.reason ?? "", effect.body === undefined ? { data: null } : effect.body);
        return;
      }
    }
    const auth = checkToken(req.headers.authorization, sim.options.tokens);
    if (auth.error) {
      // pveproxy delays every failed authentication by ~3 s (§1.1).
      await sim.clock.sleep(sim.ms("authFailDelay"));
      reply(401, auth.error, undefined);
      return;
    }
    entry.authId = auth.authId;
    if (!url.pathname.startsWith(API_PREFIX)) {
      reply(501, `Method '${method} ${url.pathname}' not implemented`, { data: null });
      return;
    }
    let call: ApiCall;
    try {
      const { params, json } = parseParams(req, body, url);
      entry.params = params;
      call = { method, path, params, strictForm: !json, authId: auth.authId!, source: "api" };
    } catch {
      reply(400, "Parameter verification failed.", { data: null });
      return;
    }
    try {
      const data = await dispatchApi(sim, call);
      reply(200, "OK", { data: data ?? null });
    } catch (err) {
      const pve = asPveError(err);
      const payload: Record<string, unknown> = { data: null };
      if (pve.errors) payload.errors = pve.errors;
      if (sim.options.withBodyMessage) payload.message = `${pve.message}\n`;
      reply(pve.status, pve.message, payload);
    }
  };
}
