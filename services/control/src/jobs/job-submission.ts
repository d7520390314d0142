/**
 * RunJob's validation and insert (DESIGN §3 step 1): required fields, the profile usable, the TTL in
 * range, the secrets bundle readable; defaults filled (mode "dangerous", ref "main", keepalive and TTL
 * from the profile); the job inserted QUEUED with a `job.queued` event, in one transaction with its
 * idempotency record. Nothing else: the orchestrator takes it from there.
 */
import { createHash, randomBytes } from "node:crypto";
import type { RunJobRequest } from "@agentlab/api";
import { AlreadyExistsError, InvalidArgumentError } from "@agentlab/core";
import type { SqliteDatabase } from "../db/open-database.js";
import { type Clock, nowTimestamp } from "../db/timestamps.js";
import type { EventBus } from "../events/event-bus.js";
import { appendEvent } from "../events/event-store.js";
import { applyProfileDefaults } from "../profiles/profile-defaults.js";
import { requireProfile } from "../profiles/profile-lookup.js";
import type { ProfileRegistry } from "../profiles/profile-registry.js";
import type { SecretsBundleReader } from "../secrets/secrets-bundle.js";
import { getWorkspace, workspaceRefFromText } from "../workspaces/workspace-store.js";
import { DEFAULT_JOB_TTL_MINUTES, MAX_JOB_TTL_MINUTES } from "./job-settings.js";
import { findJobByIdempotencyKey, insertJob, type JobRecord } from "./job-store.js";

export const MAX_TASK_BYTES = 1024 * 1024;
export const MAX_IDEMPOTENCY_KEY_LENGTH = 128;
export const DEFAULT_MODE = "dangerous";
export const DEFAULT_REF = "main";

export interface JobSubmissionDeps {
  db: SqliteDatabase;
  bus: EventBus;
  clock: Clock;
  profiles: ProfileRegistry;
  secrets: SecretsBundleReader;
  /** Injected so tests can force id collisions. */
  random?: (size: number) => Buffer;
}

export function newJobId(random: (size: number) => Buffer = randomBytes): string {
  return `job_${random(8).toString("hex")}`;
}

function required(value: string, field: string, hint: string): void {
  if (value.trim() === "") throw new InvalidArgumentError({ message: `${field} is required`, what: field, hint });
}

function checkTtl(ttl: number, source: string): void {
  if (!Number.isInteger(ttl) || ttl < 1 || ttl > MAX_JOB_TTL_MINUTES) {
    throw new InvalidArgumentError({
      message: `ttl_minutes ${ttl} (${source}) is out of range`,
      what: "ttl_minutes",
      value: ttl,
      hint: `use 1..${MAX_JOB_TTL_MINUTES} minutes`,
    });
  }
}

/** What makes two RunJob requests "the same" for an idempotency key. */
function requestHash(req: RunJobRequest): string {
  const fields = [
    req.repoUrl,
    req.ref,
    req.task,
    req.profile,
    req.mode,
    String(req.ttlMinutes ?? ""),
    String(req.keepalive ?? ""),
    req.agentCommand,
    req.secretsBundle,
    req.workspace,
  ];
  return createHash("sha256").update(JSON.stringify(fields)).digest("hex");
}

/** Returns the new job, or the earlier one when the idempotency key matches. */
export function submitJob(deps: JobSubmissionDeps, req: RunJobRequest): { job: JobRecord; created: boolean } {
  const { db, bus, clock } = deps;
  const key = req.idempotencyKey;
  if (key.length > MAX_IDEMPOTENCY_KEY_LENGTH) {
    throw new InvalidArgumentError({
      message: `idempotency_key is ${key.length} characters long`,
      what: "idempotency_key",
      hint: `use at most ${MAX_IDEMPOTENCY_KEY_LENGTH}`,
    });
  }
  if (key !== "") {
    const earlier = earlierJob(db, key, requestHash(req));
    if (earlier) return { job: earlier, created: false };
  }
  required(req.repoUrl, "repo_url", "pass the git URL to clone, e.g. https://github.com/org/repo.git");
  required(req.task, "task", "pass the task for the agent");
  required(req.profile, "profile", "list profiles with `agentlab profile list`");
  const taskBytes = Buffer.byteLength(req.task, "utf8");
  if (taskBytes > MAX_TASK_BYTES) {
    throw new InvalidArgumentError({
      message: `task is ${taskBytes} bytes`,
      what: "task",
      hint: `keep it at most ${MAX_TASK_BYTES} bytes (1 MiB); put long material in the repository`,
    });
  }
  if (req.ttlMinutes !== undefined) checkTtl(req.ttlMinutes, "requested");
  const profile = requireProfile(deps.profiles, req.profile);
  const lifetime = applyProfileDefaults({ keepalive: req.keepalive, ttlMinutes: req.ttlMinutes }, profile.profile);
  const ttl = lifetime.ttlMinutes.value ?? DEFAULT_JOB_TTL_MINUTES;
  checkTtl(ttl, `from profile ${profile.name}`);
  // Only the NAME is kept; reading it now turns a missing or world-readable bundle into an error here,
  // not a guest that fails half-way.
  const bundle = req.secretsBundle || profile.profile.secrets_bundle || null;
  if (bundle) deps.secrets.load(bundle);
  const workspaceId = req.workspace ? getWorkspace(db, workspaceRefFromText(req.workspace)).id : null;

  const now = nowTimestamp(clock);
  const { job, event } = db.transaction(() => {
    // Checked again inside the write: a concurrent retry may have inserted it since.
    if (key !== "") {
      const earlier = earlierJob(db, key, requestHash(req));
      if (earlier) return { job: earlier, event: undefined };
    }
    let id = newJobId(deps.random);
    for (let attempt = 1; db.prepare("SELECT 1 FROM jobs WHERE id = ?").get(id) !== undefined; attempt++) {
      if (attempt >= 5) throw new Error("could not find a free job id after 5 attempts");
      id = newJobId(deps.random);
    }
    const inserted = insertJob(
      db,
      {
        id,
        repoUrl: req.repoUrl.trim(),
        ref: req.ref || DEFAULT_REF,
        profile: profile.name,
        task: req.task,
        mode: req.mode || DEFAULT_MODE,
        ttlMinutes: ttl,
        keepalive: lifetime.keepalive.value,
        idempotencyKey: key || null,
        agentCommand: req.agentCommand.trim() || null,
        secretsBundle: bundle,
        workspaceId,
      },
      now,
    );
    if (key !== "") {
      db.prepare(
        "INSERT INTO idempotency_keys (key, kind, resource_id, request_hash, created_at) VALUES (?, 'job', ?, ?, ?)",
      ).run(`job:${key}`, id, requestHash(req), now);
    }
    const queued = appendEvent(
      db,
      {
        kind: "job.queued",
        jobId: id,
        msg: `queued: ${inserted.repoUrl}@${inserted.ref} on profile ${profile.name}`,
        payload: { profile: profile.name, ttl_minutes: ttl, keepalive: inserted.keepalive },
      },
      clock,
    );
    return { job: inserted, event: queued };
  })();
  if (!event) return { job, created: false };
  bus.publish(event);
  return { job, created: true };
}

function earlierJob(db: SqliteDatabase, key: string, hash: string): JobRecord | undefined {
  const job = findJobByIdempotencyKey(db, key);
  if (!job) return undefined;
  const stored = db.prepare("SELECT request_hash FROM idempotency_keys WHERE key = ?").pluck().get(`job:${key}`) as
    | string
    | undefined;
  if (stored !== undefined && stored !== hash) {
    throw new AlreadyExistsError({
      message: `idempotency_key ${JSON.stringify(key)} was used for a different job (${job.id})`,
      what: "idempotency_key",
      value: key,
      hint: "use a new key for a new job; retry with exactly the same request to get the same job",
    });
  }
  return job;
}
