/**
 * The FetchBootstrap payload: everything the guest needs for its job, and the only place secrets
 * leave control (DESIGN §2). Built in two steps so that nothing is written before everything that can
 * fail has been read: `resolvePayloadParts` reads (job, sandbox, profile, secrets bundle) and may
 * throw; `bootstrapResponse` only assembles, once the tokens have been minted.
 */
import { type FetchBootstrapResponse, FetchBootstrapResponseSchema } from "@agentlab/api";
import { FailedPreconditionError, NotFoundError } from "@agentlab/core";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { SqliteDatabase } from "../db/open-database.js";
import type { JobSettings } from "../jobs/job-settings.js";
import { DEFAULT_JOB_TTL_MINUTES } from "../jobs/job-settings.js";
import { isFinalStatus, type JobRecord } from "../jobs/job-store.js";
import type { ProfileRegistry } from "../profiles/profile-registry.js";
import type { SandboxRecord } from "../sandboxes/sandbox-record.js";
import { findSandbox } from "../sandboxes/sandbox-store.js";
import type { SecretsBundle, SecretsBundleReader } from "../secrets/secrets-bundle.js";
import { LOCAL_SANDBOX_ARTIFACTS_ENDPOINT } from "../tokens/bootstrap-data.js";

export interface PayloadParts {
  job: JobRecord;
  sandbox: SandboxRecord;
  bundle: SecretsBundle | undefined;
  agentCommand: string;
}

export interface PayloadSources {
  db: SqliteDatabase;
  profiles: ProfileRegistry;
  secrets: SecretsBundleReader;
}

/** `bundleName` defaults to the job's (legacy jobs, which have none stored, pass their profile's). */
export function resolvePayloadParts(
  sources: PayloadSources,
  job: JobRecord,
  vmid: number,
  bundleName: string | null = job.secretsBundle,
): PayloadParts {
  if (isFinalStatus(job.status)) {
    throw new FailedPreconditionError({
      message: `job ${job.id} already finalized (${job.status})`,
      what: "job",
      value: job.id,
      hint: "nothing left to run in this sandbox",
    });
  }
  const sandbox = findSandbox(sources.db, vmid);
  if (!sandbox || (job.sandboxVmid !== null && job.sandboxVmid !== vmid)) {
    throw new NotFoundError({ message: `no job assigned to sandbox ${vmid}`, what: "vmid", value: vmid });
  }
  // The job's own override wins; else the profile's command as it is now (a reload may have fixed it).
  const agentCommand = job.agentCommand || sources.profiles.find(job.profile)?.profile.agent?.command || "";
  const bundle = bundleName ? sources.secrets.load(bundleName) : undefined;
  return { job, sandbox, bundle, agentCommand };
}

/**
 * Where a guest uploads. Local sandboxes see the artifacts guest socket at a fixed path; Proxmox
 * guests get the Connect base URL of artifact_listen, i.e. artifact_upload_url without the original's
 * `/upload` route (which stays for legacy guests).
 */
export function uploadEndpointFor(sandbox: SandboxRecord, artifactUploadUrl: string): string {
  if (sandbox.meta.backend === "local") return LOCAL_SANDBOX_ARTIFACTS_ENDPOINT;
  return artifactUploadUrl.replace(/\/+$/, "").replace(/\/upload$/, "");
}

/** The longest a quiet guest goes without asking control whether its job was canceled. */
export const MAX_HEARTBEAT_INTERVAL_SECONDS = 15;

/**
 * A third of the loss timeout, so two heartbeats may be lost before the guest counts as gone, but
 * at most 15 s: a heartbeat's reply is how a guest whose agent prints nothing hears of a cancel,
 * and with the default 5m timeout a third (100 s) would leave `job cancel` unanswered that long.
 * One small call per job every 15 s costs control nothing it would notice.
 */
export function heartbeatIntervalSeconds(heartbeatTimeoutMs: number): number {
  return Math.max(1, Math.min(MAX_HEARTBEAT_INTERVAL_SECONDS, Math.floor(heartbeatTimeoutMs / 3000)));
}

export function bootstrapResponse(
  parts: PayloadParts,
  tokens: { reportToken: string; uploadToken: string },
  settings: JobSettings,
  now: Date,
): FetchBootstrapResponse {
  const { job, sandbox, bundle } = parts;
  const git = bundle?.git;
  return create(FetchBootstrapResponseSchema, {
    job: {
      id: job.id,
      repoUrl: job.repoUrl,
      ref: job.ref,
      task: job.task,
      mode: job.mode,
      profile: job.profile,
      ttlMinutes: job.ttlMinutes ?? DEFAULT_JOB_TTL_MINUTES,
      agentCommand: parts.agentCommand,
    },
    reportToken: tokens.reportToken,
    upload: {
      endpoint: uploadEndpointFor(sandbox, settings.artifactUploadUrl),
      token: tokens.uploadToken,
      maxBytes: BigInt(settings.artifactMaxBytes),
    },
    ...(git && Object.values(git).some((v) => v)
      ? {
          git: {
            token: git.token ?? "",
            username: git.username ?? "",
            sshPrivateKey: git.ssh_private_key ?? "",
            knownHosts: git.known_hosts ?? "",
          },
        }
      : {}),
    env: { ...(bundle?.env ?? {}) },
    heartbeatIntervalSeconds: heartbeatIntervalSeconds(settings.heartbeatTimeoutMs),
    logStreamMaxBytes: BigInt(settings.logMaxBytes),
    issuedAt: timestampFromDate(now),
  });
}

/** The original's payload (agentlab-reference.md §6.1) for legacy guests. */
export function legacyBootstrapPayload(parts: PayloadParts, uploadToken: string, settings: JobSettings): unknown {
  const { job, bundle } = parts;
  const git = bundle?.git;
  return {
    job: {
      id: job.id,
      repo_url: job.repoUrl,
      ref: job.ref,
      task: job.task,
      mode: job.mode,
      profile: job.profile,
      keepalive: job.keepalive,
      ttl_minutes: job.ttlMinutes ?? 0,
    },
    ...(git && Object.values(git).some((v) => v)
      ? {
          git: {
            ...(git.token ? { token: git.token } : {}),
            ...(git.username ? { username: git.username } : {}),
            ...(git.ssh_private_key ? { ssh_private_key: git.ssh_private_key } : {}),
            ...(git.known_hosts ? { known_hosts: git.known_hosts } : {}),
          },
        }
      : {}),
    ...(bundle && Object.keys(bundle.env).length > 0 ? { env: bundle.env } : {}),
    artifact: { endpoint: settings.artifactUploadUrl, token: uploadToken },
  };
}
