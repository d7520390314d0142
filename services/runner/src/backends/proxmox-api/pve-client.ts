import type { IncomingMessage } from "node:http";
import { Agent, request as httpsRequest } from "node:https";
import type { CallContext } from "../../backend.js";
import { BackendError, isBackendError } from "../../backend-errors.js";
import { kindOfPveHttp, pveError } from "../proxmox-common/pve-errors.js";
import type { ProxmoxLogger } from "../proxmox-common/runtime-deps.js";
import {
  agentTlsOptions,
  normaliseFingerprint,
  probePinnedCertificate,
  type TlsTrustOptions,
  tlsMode,
} from "./tls-trust.js";

/**
 * The Proxmox wire client: token auth, TLS, the `{data}` envelope and error texts
 * (reference/proxmox.md §1.1–§1.3). It knows nothing about VMs; proxmox-api-driver.ts does.
 */
export interface PveClientOptions {
  /** `proxmox_api_url`, e.g. `https://pve.example:8006` (`/api2/json` appended when missing). */
  apiUrl: string;
  /** `proxmox_api_token`: `user@realm!tokenid=<secret>`. */
  token: string;
  tls?: TlsTrustOptions;
  /** Per-request HTTP timeout, separate from operation deadlines (§3 "Timeouts"); default 60 s. */
  requestTimeoutMs?: number;
  log: ProxmoxLogger;
  /** Epoch ms; injected so tests can fake time. */
  now?: () => number;
}

export type PveMethod = "GET" | "POST" | "PUT" | "DELETE";
export type PveParams = Record<string, string | number | boolean | undefined>;

export interface PveClient {
  /** Sends one request and returns the envelope's `data`. Never retries: callers decide. */
  request(ctx: CallContext, method: PveMethod, path: string, params?: PveParams): Promise<unknown>;
  close(): void;
}

/** §1.1: `PVEAPIToken=<user>@<realm>!<tokenid>=<secret>`; the server splits at the last `=`. */
const TOKEN_PATTERN = /^[^\s@=]+@[^\s!=]+![A-Za-z][A-Za-z0-9._-]*=[^\s]+$/;

/** Node's codes for certificate failures. */
const TLS_ERROR_CODES = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|ERR_TLS|ERR_SSL/;

export function encodeParams(params: PveParams | undefined): URLSearchParams {
  const out = new URLSearchParams();
  for (const [key, value] of Object.entries(params ?? {})) {
    if (value === undefined) continue;
    // §1.1: form booleans must be 0/1 — `true` fails the schema with a 400.
    out.append(key, typeof value === "boolean" ? (value ? "1" : "0") : String(value));
  }
  return out;
}

/** §1.3: the message is in the reason phrase (first line) and, since 2025, in body `message`. */
export function errorText(reason: string | undefined, body: unknown): string {
  const record = body && typeof body === "object" ? (body as Record<string, unknown>) : {};
  const message = typeof record.message === "string" ? record.message.trim() : "";
  let text = message || (reason ?? "").trim() || "no reason given";
  const errors = record.errors;
  if (errors && typeof errors === "object") {
    const details = Object.entries(errors as Record<string, unknown>)
      .map(([key, value]) => `${key}: ${String(value).trim()}`)
      .join("; ");
    if (details) text = `${text} (${details})`;
  }
  return text;
}

export function createPveClient(options: PveClientOptions): PveClient {
  if (!TOKEN_PATTERN.test(options.token)) {
    throw new BackendError("invalid_argument", "proxmox_api_token is not of the form user@realm!tokenid=secret", {
      hint: "create one with 'pveum user token add <user>@<realm> <tokenid>' and paste user@realm!tokenid=<uuid>",
    });
  }
  let base: URL;
  try {
    base = new URL(options.apiUrl);
  } catch {
    throw new BackendError("invalid_argument", `proxmox_api_url ${JSON.stringify(options.apiUrl)} is not a URL`, {
      hint: "use https://<host>:8006",
    });
  }
  if (base.protocol !== "https:") {
    throw new BackendError("invalid_argument", `proxmox_api_url must use https, got ${base.protocol}`, {
      hint: "pveproxy only speaks HTTPS on port 8006",
    });
  }
  const prefix = base.pathname.replace(/\/+$/, "").endsWith("/api2/json")
    ? base.pathname.replace(/\/+$/, "")
    : `${base.pathname.replace(/\/+$/, "")}/api2/json`;
  const tls = options.tls ?? {};
  const mode = tlsMode(tls); // throws if the options are not mutually exclusive
  if (mode === "fingerprint") normaliseFingerprint(tls.fingerprint!);
  const requestTimeoutMs = options.requestTimeoutMs ?? 60_000;
  const now = options.now ?? Date.now;
  const host = base.hostname.replace(/^\[|\]$/g, "");
  const port = Number(base.port || 443);
  const authorization = `PVEAPIToken=${options.token}`;
  let agentPromise: Promise<Agent> | undefined;

  const makeAgent = async (): Promise<Agent> => {
    const pinned =
      mode === "fingerprint"
        ? await probePinnedCertificate(host, port, normaliseFingerprint(tls.fingerprint!), requestTimeoutMs)
        : undefined;
    // A dedicated keep-alive Agent: TLS settings stay local to this client.
    return new Agent({ keepAlive: true, maxSockets: 16, ...agentTlsOptions(tls, options.log, pinned) });
  };
  const agent = (): Promise<Agent> => {
    agentPromise ??= makeAgent().catch((err) => {
      agentPromise = undefined; // probe again next time
      throw err;
    });
    return agentPromise;
  };

  const what = (method: PveMethod, path: string) => `${method} ${path}`;

  const transportError = (err: unknown, method: PveMethod, path: string, timedOut: boolean): BackendError => {
    if (isBackendError(err)) return err;
    const e = err as NodeJS.ErrnoException;
    const code = e.code ?? "";
    if (TLS_ERROR_CODES.test(code) || TLS_ERROR_CODES.test(e.message ?? "")) {
      return new BackendError(
        "tls",
        `${what(method, path)}: certificate of ${base.host} not trusted (${code || e.message})`,
        {
          hint: "set proxmox_tls_ca_path to /etc/pve/pve-root-ca.pem or proxmox_tls_fingerprint to the node's SHA-256 fingerprint",
        },
        { cause: err },
      );
    }
    const reason = timedOut ? `no answer within ${requestTimeoutMs} ms` : `${code || "network error"}: ${e.message}`;
    return pveError("unreachable", `${what(method, path)} to ${base.host}`, reason, {}, err);
  };

  const send = async (ctx: CallContext, method: PveMethod, path: string, params?: PveParams): Promise<unknown> => {
    const url = new URL(`${base.origin}${prefix}${path}`);
    const encoded = encodeParams(params);
    let body: string | undefined;
    if (method === "GET" || method === "DELETE") {
      for (const [k, v] of encoded) url.searchParams.append(k, v);
    } else {
      body = encoded.toString();
    }
    const left = ctx.deadline - now();
    if (left <= 0)
      throw new BackendError("deadline", `${what(method, path)}: deadline passed before the request was sent`);
    const timeout = Math.min(requestTimeoutMs, left);
    const httpAgent = await agent();
    return new Promise((resolve, reject) => {
      let timedOut = false;
      const req = httpsRequest(url, {
        method,
        agent: httpAgent,
        headers: {
          Authorization: authorization,
          Accept: "application/json",
          ...(body !== undefined
            ? { "Content-Type": "application/x-www-form-urlencoded", "Content-Length": Buffer.byteLength(body) }
            : {}),
        },
      });
      const timer = setTimeout(() => {
        timedOut = true;
        req.destroy(new Error("request timeout"));
      }, timeout);
      const onAbort = () => req.destroy(new Error("cancelled by the caller"));
      ctx.signal?.addEventListener("abort", onAbort, { once: true });
      const finish = () => {
        clearTimeout(timer);
        ctx.signal?.removeEventListener("abort", onAbort);
      };
      req.on("error", (err) => {
        finish();
        if (ctx.signal?.aborted) {
          reject(new BackendError("deadline", `${what(method, path)}: cancelled by the caller`, {}, { cause: err }));
          return;
        }
        if (timedOut && timeout < requestTimeoutMs) {
          // Cut short by the operation's deadline, not by the per-request timeout.
          reject(
            new BackendError(
              "deadline",
              `${what(method, path)}: the call's deadline passed while waiting for Proxmox`,
              {},
              { cause: err },
            ),
          );
          return;
        }
        reject(transportError(err, method, path, timedOut));
      });
      req.on("response", (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("error", (err) => {
          finish();
          reject(transportError(err, method, path, timedOut));
        });
        res.on("end", () => {
          finish();
          const raw = Buffer.concat(chunks).toString("utf8");
          let parsed: unknown;
          try {
            parsed = raw ? JSON.parse(raw) : undefined;
          } catch {
            parsed = undefined; // §1.1: 401 bodies may be empty or not JSON
          }
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) {
            if (!parsed || typeof parsed !== "object" || !("data" in parsed)) {
              reject(
                new BackendError("internal", `${what(method, path)}: answer without a {data} envelope`, { status }),
              );
              return;
            }
            resolve((parsed as { data: unknown }).data);
            return;
          }
          const text = errorText(res.statusMessage, parsed);
          reject(
            pveError(kindOfPveHttp(status, text), `${what(method, path)} failed (HTTP ${status})`, text, { status }),
          );
        });
      });
      if (body !== undefined) req.write(body);
      req.end();
    });
  };

  return {
    request: send,
    close() {
      void agentPromise?.then((a) => a.destroy()).catch(() => undefined);
      agentPromise = undefined;
    },
  };
}
