/**
 * The original AgentLab's guest API (agentlab-reference.md §3.4, §6.1), kept only for jobs that were
 * RUNNING when a database was migrated from it: their sandboxes keep running the original bash guest,
 * which speaks plain JSON and knows no report token. Which jobs count is decided in
 * jobs/legacy-jobs.ts (the sandbox row has no owner tag). New templates run the new guest.
 *
 * - POST /v1/bootstrap/fetch {token, vmid} → {job{…}, git?, env?, artifact{endpoint, token}}: token
 *   checked (hash, VMID, unused, unexpired) and consumed only once the response is built.
 * - POST /v1/runner/report {job_id, vmid, status, message?, artifacts?, result?} → {job_status,
 *   sandbox_status}: accepted only from the sandbox's recorded IP, as the original did.
 * Anything else about these paths — a job of this version, an unknown job — is 404 "job not found".
 */
import type http from "node:http";
import {
  DomainError,
  httpStatusFor,
  InvalidArgumentError,
  type Logger,
  NotFoundError,
  PermissionDeniedError,
  UnauthenticatedError,
} from "@agentlab/core";
import { mintUploadToken } from "../artifacts/upload-token-store.js";
import type { SqliteDatabase } from "../db/open-database.js";
import type { Clock } from "../db/timestamps.js";
import type { EventBus } from "../events/event-bus.js";
import type { JobFinalizer } from "../jobs/job-finalizer.js";
import type { JobSettings } from "../jobs/job-settings.js";
import { findJob, getJob, type JobRecord } from "../jobs/job-store.js";
import { legacySandboxOf } from "../jobs/legacy-jobs.js";
import type { ProfileRegistry } from "../profiles/profile-registry.js";
import { findSandbox, jobIdOfSandbox } from "../sandboxes/sandbox-store.js";
import type { SecretsBundleReader } from "../secrets/secrets-bundle.js";
import { checkBootstrapToken, consumeBootstrapToken } from "../tokens/bootstrap-tokens.js";
import { legacyBootstrapPayload, resolvePayloadParts } from "./bootstrap-payload.js";
import { applyGuestReport, type ReportedStatus } from "./guest-report.js";

export interface LegacyGuestRoutesDeps {
  db: SqliteDatabase;
  bus: EventBus;
  clock: Clock;
  profiles: ProfileRegistry;
  secrets: SecretsBundleReader;
  finalizer: JobFinalizer;
  settings: JobSettings;
  logger: Logger;
}

export const LEGACY_FETCH_PATH = "/v1/bootstrap/fetch";
export const LEGACY_REPORT_PATH = "/v1/runner/report";
/** The original limited JSON bodies to 1 MiB. */
const MAX_BODY_BYTES = 1024 * 1024;
const LEGACY_STATUSES: readonly ReportedStatus[] = ["RUNNING", "COMPLETED", "FAILED", "TIMEOUT"];

const jobNotFound = () => new NotFoundError({ message: "job not found" });

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function send(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text), ...headers });
  res.end(text);
}

function readJson(req: http.IncomingMessage): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new HttpError(413, "request body too large"));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on("error", reject);
    req.on("end", () => {
      try {
        const value = JSON.parse(Buffer.concat(chunks).toString("utf8")) as unknown;
        if (value === null || typeof value !== "object" || Array.isArray(value)) throw new Error("not an object");
        resolve(value as Record<string, unknown>);
      } catch {
        reject(new InvalidArgumentError({ message: "invalid JSON body: expected an object" }));
      }
    });
  });
}

/** `::ffff:10.0.0.5` (an IPv4 peer on a dual-stack socket) is 10.0.0.5. */
function normaliseAddress(address: string | undefined): string {
  return (address ?? "").replace(/^::ffff:/i, "");
}

function requireVmid(value: unknown): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value <= 0) {
    throw new InvalidArgumentError({ message: "vmid must be a positive integer", what: "vmid" });
  }
  return value;
}

export function legacyGuestHttpRoutes(
  deps: LegacyGuestRoutesDeps,
): (req: http.IncomingMessage, res: http.ServerResponse) => boolean {
  const { db, clock, settings } = deps;

  const legacyJobFor = (job: JobRecord | undefined): JobRecord => {
    if (!job || !legacySandboxOf(db, job)) throw jobNotFound();
    return job;
  };

  const fetch = (body: Record<string, unknown>): unknown => {
    const token = typeof body.token === "string" ? body.token : "";
    if (token === "") throw new InvalidArgumentError({ message: "token is required", what: "token" });
    const vmid = requireVmid(body.vmid);
    const now = clock();
    const row = checkBootstrapToken(db, token, vmid, now);
    const jobId = row.jobId ?? jobIdOfSandbox(db, vmid);
    const job = legacyJobFor(jobId ? findJob(db, jobId) : undefined);
    // The original chose bundles by profile; its job rows name none.
    const bundleName = job.secretsBundle ?? deps.profiles.find(job.profile)?.profile.secrets_bundle ?? null;
    const parts = resolvePayloadParts(deps, job, vmid, bundleName);
    return db.transaction(() => {
      const uploadToken = mintUploadToken(db, { jobId: job.id, vmid }, now, settings.artifactTokenTtlMs);
      if (!consumeBootstrapToken(db, token, now)) {
        throw new UnauthenticatedError({ message: "bootstrap token already used" });
      }
      return legacyBootstrapPayload(parts, uploadToken, settings);
    })();
  };

  const report = (body: Record<string, unknown>, remote: string): unknown => {
    const jobId = typeof body.job_id === "string" ? body.job_id : "";
    if (jobId === "") throw new InvalidArgumentError({ message: "job_id is required", what: "job_id" });
    const vmid = requireVmid(body.vmid);
    const status = (typeof body.status === "string" ? body.status : "").toUpperCase() as ReportedStatus;
    if (!LEGACY_STATUSES.includes(status)) {
      throw new InvalidArgumentError({
        message: `invalid status ${JSON.stringify(body.status)}`,
        what: "status",
        hint: `use one of ${LEGACY_STATUSES.join(", ")}`,
      });
    }
    const job = legacyJobFor(findJob(db, jobId));
    if (job.sandboxVmid !== vmid) throw new HttpError(409, "vmid does not match the job's sandbox");
    const sandbox = findSandbox(db, vmid);
    if (!sandbox?.ip || normaliseAddress(sandbox.ip) !== remote) {
      throw new PermissionDeniedError({ message: "report refused: it does not come from the job's sandbox" });
    }
    const message = typeof body.message === "string" ? body.message : "";
    const secrets = deps.secrets.valuesFor(
      job.secretsBundle ?? deps.profiles.find(job.profile)?.profile.secrets_bundle,
    );
    const legacyResultJson =
      status === "RUNNING"
        ? undefined
        : JSON.stringify({
            status,
            ...(message ? { message } : {}),
            ...(body.artifacts !== undefined ? { artifacts: body.artifacts } : {}),
            ...(body.result !== undefined ? { result: body.result } : {}),
            reported_at: clock().toISOString(),
          });
    const after = applyGuestReport(
      deps,
      jobId,
      vmid,
      { status, message, ...(legacyResultJson ? { legacyResultJson } : {}) },
      secrets,
    );
    return { job_status: after.status, sandbox_status: findSandbox(db, vmid)?.state ?? "" };
  };

  const fail = (res: http.ServerResponse, err: unknown): void => {
    if (err instanceof HttpError) {
      send(res, err.status, { error: err.message });
      return;
    }
    // The original answered 403 to a refused token; its guest keys on that.
    if (err instanceof UnauthenticatedError) {
      send(res, 403, { error: err.message });
      return;
    }
    if (!(err instanceof DomainError)) deps.logger.error({ err: String(err) }, "legacy guest route failed");
    const mapped = httpStatusFor(err);
    send(res, mapped.status, { error: mapped.body.error }, mapped.headers);
  };

  return (req, res) => {
    const path = (req.url ?? "").split("?")[0];
    if (path !== LEGACY_FETCH_PATH && path !== LEGACY_REPORT_PATH) return false;
    if (req.method !== "POST") {
      send(res, 405, { error: "method not allowed" }, { allow: "POST" });
      return true;
    }
    const remote = normaliseAddress(req.socket.remoteAddress);
    readJson(req)
      .then((body) => (path === LEGACY_FETCH_PATH ? fetch(body) : report(body, remote)))
      .then((reply) => send(res, 200, reply))
      .catch((err: unknown) => fail(res, err));
    return true;
  };
}

/** For tests and operators: whether a job would be served by these routes. */
export function isServedByLegacyRoutes(db: SqliteDatabase, jobId: string): boolean {
  return legacySandboxOf(db, getJob(db, jobId)) !== undefined;
}
