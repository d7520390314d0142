import { FetchBootstrapRequestSchema, type FetchBootstrapResponse, GuestService } from "@agentlab/api";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import type { BootstrapFile } from "./bootstrap-file.js";
import { errorMessage, GuestError } from "./guest-error.js";
import type { TransportFactory } from "./guest-transport.js";
import { readPayloadCache, writePayloadCache } from "./payload-cache.js";
import { type RetryPolicy, type Sleep, withRetry } from "./retry-policy.js";

export type BootstrapOutcome =
  /** A job to run; `cached` when the payload came from the run directory (a restart). */
  | { kind: "job"; payload: FetchBootstrapResponse; cached: boolean }
  /** Control has no job for this sandbox: a bare sandbox, nothing to do. */
  | { kind: "no-job"; message: string };

export interface BootstrapFetcherDeps {
  createTransport: TransportFactory;
  sleep: Sleep;
  retry: RetryPolicy;
  log: (line: string) => void;
}

/**
 * Gets the job payload: from the cache when this guest already fetched it (the token is single-use),
 * else from control with retries, caching it before anything else happens.
 */
export async function obtainPayload(
  bootstrap: BootstrapFile,
  runDir: string,
  deps: BootstrapFetcherDeps,
): Promise<BootstrapOutcome> {
  const cached = await readPayloadCache(runDir, bootstrap.vmid);
  if (cached) {
    deps.log(`reusing the cached bootstrap payload for job ${cached.job?.id ?? "?"}`);
    return { kind: "job", payload: cached, cached: true };
  }
  const client = createClient(GuestService, deps.createTransport(bootstrap.controller));
  const request = create(FetchBootstrapRequestSchema, { token: bootstrap.token, vmid: bootstrap.vmid });
  let payload: FetchBootstrapResponse;
  try {
    payload = await withRetry(
      deps.retry,
      {
        sleep: deps.sleep,
        onRetry: (err, attempt, delayMs) =>
          deps.log(`FetchBootstrap attempt ${attempt} failed (${errorMessage(err)}); retrying in ${delayMs} ms`),
      },
      () => client.fetchBootstrap(request),
    );
  } catch (err) {
    if (err instanceof ConnectError && err.code === Code.NotFound) {
      return { kind: "no-job", message: err.rawMessage || "no job assigned" };
    }
    if (err instanceof ConnectError && err.code === Code.Unauthenticated) {
      throw new GuestError(
        `control refused the bootstrap token for VMID ${bootstrap.vmid}: ${err.rawMessage}`,
        "the token is spent, expired or for another sandbox; re-provision the sandbox",
        { cause: err },
      );
    }
    throw new GuestError(
      `FetchBootstrap at ${bootstrap.controller} failed: ${errorMessage(err)}`,
      "check that control's guest listener is reachable from the sandbox",
      { cause: err },
    );
  }
  if (!payload.job?.id) {
    throw new GuestError("FetchBootstrap returned a payload without a job", "report this as a control bug");
  }
  await writePayloadCache(runDir, bootstrap.vmid, payload);
  return { kind: "job", payload, cached: false };
}
