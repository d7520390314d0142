/**
 * Takes QUEUED jobs to RUNNING with a READY sandbox (DESIGN §3 step 2).
 *
 * Admission: a job waits, QUEUED and visible (one `job.waiting` event says why), while
 * max_active_sandboxes or its profile's behavior.max_active is reached. Sandboxes this process has
 * asked for but the lifecycle has not inserted yet count too, so one pass never admits more jobs
 * than there are slots. The lifecycle checks the same caps again; if it refuses after all (a
 * CreateSandbox call took the slot), the job goes back to QUEUED. Waiting jobs are retried when a
 * sandbox ends or a job is queued (both are events on the bus) and on a timer.
 *
 * Provisioning goes through `lifecycle.create` with requestId "job:<id>", so asking again for the
 * same job returns the same sandbox instead of cloning twice. The sandbox is linked to the job as
 * soon as its row exists (the lifecycle's `sandbox.created` event), so a cancel or a restart finds it.
 *
 * Recovery (`recover()`, at control start, before `start()`):
 * - QUEUED jobs simply wait for `start()`'s first pass.
 * - RUNNING jobs without any sandbox row: control stopped before asking for one, nothing was created,
 *   so they are queued again (`job.requeued`).
 * - RUNNING jobs whose sandbox is READY/RUNNING keep it: the guest carries on; the heartbeat watch
 *   decides whether it is still alive.
 * - RUNNING jobs whose sandbox was still starting: the interrupted provisioning cannot be resumed;
 *   the sandbox is failed and destroyed, and the job FAILS "control restarted while provisioning".
 *   Re-provisioning was rejected: the half-made VM would have to be destroyed first anyway, and a
 *   retry hides a restart loop from the user.
 * - RUNNING jobs whose sandbox already ended FAIL the same way (or, when the guest had been heard
 *   from, with the sandbox's own reason).
 */
import { type Logger, ResourceExhaustedError, UnavailableError } from "@agentlab/core";
import { nowTimestamp } from "../db/timestamps.js";
import type { StoredEvent } from "../events/event-store.js";
import { recordEvent } from "../events/record-event.js";
import { type LoopTimers, realTimers } from "../loops/periodic-loop.js";
import type { LoadedProfile } from "../profiles/profile-loader.js";
import { requireProfile } from "../profiles/profile-lookup.js";
import type { ProfileRegistry } from "../profiles/profile-registry.js";
import { errorText } from "../sandboxes/runner-call.js";
import type { SandboxLifecycle } from "../sandboxes/sandbox-lifecycle.js";
import type { SandboxRecord } from "../sandboxes/sandbox-record.js";
import { NON_TERMINAL_STATES, STARTING_STATES } from "../sandboxes/sandbox-state-machine.js";
import { countSandboxesInStates, findSandbox, findSandboxByRequestId } from "../sandboxes/sandbox-store.js";
import { moveSandbox, type SandboxStateContext, transitionSandbox } from "../sandboxes/sandbox-transitions.js";
import type { JobFinalizer } from "./job-finalizer.js";
import { ceilMinutes, DEFAULT_JOB_TTL_MINUTES } from "./job-settings.js";
import {
  findJob,
  getJob,
  isFinalStatus,
  type JobRecord,
  linkJobSandbox,
  listJobsInStatus,
  markJobRequeued,
  markJobStarted,
} from "./job-store.js";

export interface JobOrchestratorDeps extends SandboxStateContext {
  lifecycle: SandboxLifecycle;
  profiles: ProfileRegistry;
  finalizer: JobFinalizer;
  logger: Logger;
  /** job_upload_grace in ms: the sandbox lease is the job TTL plus this. */
  uploadGraceMs: number;
  /** max_active_sandboxes (0 = no cap), as the lifecycle's policy has it. */
  maxActiveSandboxes: number;
  /** How often waiting jobs are retried without any event; default 30 s. */
  retryIntervalMs?: number;
  timers?: LoopTimers;
}

export const RESTARTED_WHILE_PROVISIONING = "control restarted while provisioning";

export const jobRequestId = (jobId: string) => `job:${jobId}`;

interface Starting {
  profile: string;
  /** Set once the lifecycle inserted the sandbox row. */
  vmid?: number;
}

export class JobOrchestrator {
  private readonly starting = new Map<string, Starting>();
  private readonly inFlight = new Set<Promise<void>>();
  /** Last waiting reason announced per job, so a waiting job leaves one event, not one per pass. */
  private readonly waitingNoted = new Map<string, string>();
  /** Jobs the lifecycle refused after our own check admitted them: retried on the next event or tick, not at once. */
  private readonly deferred = new Set<string>();
  private unsubscribe: (() => void) | undefined;
  private timer: unknown;
  private running = false;
  private pumping = false;
  private pumpAgain = false;

  constructor(private readonly deps: JobOrchestratorDeps) {}

  /** Subscribes to the bus, runs a first admission pass and arms the retry timer. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.unsubscribe = this.deps.bus.subscribe((event) => this.onEvent(event));
    this.kick();
    this.arm();
  }

  /** Stops admitting and waits for provisioning this instance started (bounded by its deadlines). */
  async stop(): Promise<void> {
    this.running = false;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    if (this.timer !== undefined) (this.deps.timers ?? realTimers).clearTimeout(this.timer);
    this.timer = undefined;
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  /** True while this instance is bringing up the job's sandbox. */
  isStarting(jobId: string): boolean {
    return this.starting.has(jobId);
  }

  /** Resolves when every start begun so far has settled (tests, shutdown). */
  async settled(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  /** One admission pass now. */
  pump(): void {
    if (this.pumping) {
      this.pumpAgain = true;
      return;
    }
    this.pumping = true;
    try {
      do {
        this.pumpAgain = false;
        for (const job of listJobsInStatus(this.deps.db, ["QUEUED"])) {
          if (!this.starting.has(job.id) && !this.deferred.has(job.id)) this.consider(job);
        }
      } while (this.pumpAgain);
    } finally {
      this.pumping = false;
    }
  }

  private kick(): void {
    if (!this.running) return;
    try {
      this.pump();
    } catch (err) {
      this.deps.logger.error({ err: errorText(err) }, "job admission pass failed");
    }
  }

  private arm(): void {
    const timers = this.deps.timers ?? realTimers;
    this.timer = timers.setTimeout(() => {
      this.deferred.clear();
      this.kick();
      if (this.running) this.arm();
    }, this.deps.retryIntervalMs ?? 30_000);
  }

  private onEvent(event: StoredEvent): void {
    if (event.kind === "sandbox.created" && event.jobId && event.sandboxVmid !== null) {
      const entry = this.starting.get(event.jobId);
      if (entry) {
        entry.vmid = event.sandboxVmid;
        linkJobSandbox(this.deps.db, event.jobId, event.sandboxVmid, nowTimestamp(this.deps.clock));
      }
      return;
    }
    const to = (event.payload as { to?: string } | undefined)?.to;
    const slotFreed = event.kind === "sandbox.state" && to !== undefined && !NON_TERMINAL_STATES.includes(to as never);
    if (slotFreed) this.deferred.clear();
    if (event.kind === "job.queued" || slotFreed) queueMicrotask(() => this.kick());
  }

  private consider(job: JobRecord): void {
    let profile: LoadedProfile;
    try {
      profile = requireProfile(this.deps.profiles, job.profile);
    } catch (err) {
      // The profile was removed or broke after the job was accepted: waiting would never end.
      const reason = `profile ${job.profile} is not usable: ${errorText(err)}`;
      this.deps.finalizer.finish(job.id, {
        status: "FAILED",
        failureReason: reason,
        resultJson: null,
        message: reason,
      });
      return;
    }
    const refusal = this.admissionRefusal(profile);
    if (refusal) {
      this.noteWaiting(job, refusal);
      return;
    }
    this.begin(job, profile);
  }

  private admissionRefusal(profile: LoadedProfile): string | undefined {
    const pending = [...this.starting.values()].filter((s) => s.vmid === undefined);
    const max = this.deps.maxActiveSandboxes;
    if (max > 0) {
      const active = countSandboxesInStates(this.deps.db, NON_TERMINAL_STATES) + pending.length;
      if (active >= max) return `${active} of ${max} sandboxes are active (max_active_sandboxes)`;
    }
    const profileMax = profile.profile.behavior.max_active;
    if (profileMax !== undefined && profileMax > 0) {
      const active =
        countSandboxesInStates(this.deps.db, NON_TERMINAL_STATES, profile.name) +
        pending.filter((s) => s.profile === profile.name).length;
      if (active >= profileMax) {
        return `${active} of ${profileMax} sandboxes of profile ${profile.name} are active (behavior.max_active)`;
      }
    }
    return undefined;
  }

  private noteWaiting(job: JobRecord, reason: string): void {
    if (this.waitingNoted.get(job.id) === reason) return;
    this.waitingNoted.set(job.id, reason);
    this.record({
      kind: "job.waiting",
      jobId: job.id,
      msg: `waiting for a sandbox slot: ${reason}`,
      payload: { reason },
    });
  }

  private begin(job: JobRecord, profile: LoadedProfile): void {
    const { db, clock, lifecycle } = this.deps;
    if (!markJobStarted(db, job.id, nowTimestamp(clock))) return; // canceled meanwhile
    this.waitingNoted.delete(job.id);
    this.starting.set(job.id, { profile: profile.name });
    this.record({
      kind: "job.provisioning",
      jobId: job.id,
      msg: `admitted; provisioning a sandbox from profile ${profile.name}`,
    });
    const ttl = job.ttlMinutes ?? DEFAULT_JOB_TTL_MINUTES;
    const task = lifecycle
      .create({
        profile: profile.name,
        ttlMinutes: ttl,
        keepalive: job.keepalive,
        ...(job.workspaceId ? { workspaceId: job.workspaceId } : {}),
        requestId: jobRequestId(job.id),
        wait: true,
        jobId: job.id,
        minimumLeaseMinutes: ttl + ceilMinutes(this.deps.uploadGraceMs),
        readOnlyPaths: localRepositoryPaths(job.repoUrl),
      })
      .then(
        (sandbox) => this.onProvisioned(job.id, sandbox),
        (err: unknown) => this.onProvisioningFailed(job.id, err),
      )
      .catch((err: unknown) => this.deps.logger.error({ job: job.id, err: errorText(err) }, "job start failed"))
      .finally(() => {
        this.starting.delete(job.id);
        this.inFlight.delete(task);
        this.kick();
      });
    this.inFlight.add(task);
  }

  private onProvisioned(jobId: string, sandbox: SandboxRecord): void {
    const { db, clock } = this.deps;
    linkJobSandbox(db, jobId, sandbox.vmid, nowTimestamp(clock));
    const job = getJob(db, jobId);
    if (isFinalStatus(job.status)) {
      // Canceled, or the guest already reported, while we waited for READY.
      this.deps.finalizer.settleSandbox(job, { force: job.status === "CANCELED" });
      return;
    }
    if (sandbox.state !== "READY" && sandbox.state !== "RUNNING") {
      // An earlier attempt's row came back through the request id, and it is not usable.
      this.failJob(jobId, sandbox.terminationReason ?? `sandbox ${sandbox.vmid} is ${sandbox.state}`);
      return;
    }
    if (sandbox.state === "READY") {
      try {
        transitionSandbox(this.deps, sandbox.vmid, "READY", "RUNNING", { jobId });
      } catch {
        // The guest's first report moved it already.
      }
    }
    this.record({
      kind: "job.running",
      jobId,
      sandboxVmid: sandbox.vmid,
      msg: `sandbox ${sandbox.name} (${sandbox.vmid}) is ready; the guest runs the job`,
    });
  }

  private onProvisioningFailed(jobId: string, err: unknown): void {
    const { db, clock } = this.deps;
    const job = findJob(db, jobId);
    if (!job || isFinalStatus(job.status)) return;
    const sandbox = this.sandboxOf(job);
    const retryable = err instanceof ResourceExhaustedError || (err instanceof UnavailableError && !sandbox);
    if (retryable) {
      this.deferred.add(jobId);
      if (markJobRequeued(db, jobId, nowTimestamp(clock))) this.noteWaiting(getJob(db, jobId), errorText(err));
      return;
    }
    this.failJob(jobId, sandbox?.terminationReason ?? errorText(err));
  }

  private failJob(jobId: string, reason: string): void {
    this.deps.finalizer.finish(jobId, { status: "FAILED", failureReason: reason, resultJson: null, message: reason });
  }

  private sandboxOf(job: JobRecord): SandboxRecord | undefined {
    const linked = job.sandboxVmid !== null ? findSandbox(this.deps.db, job.sandboxVmid) : undefined;
    return linked ?? findSandboxByRequestId(this.deps.db, jobRequestId(job.id));
  }

  /** Settles RUNNING jobs left by a previous control process; see the file comment. */
  recover(): { requeued: string[]; kept: string[]; failed: string[] } {
    const { db, clock, lifecycle, logger } = this.deps;
    const outcome = { requeued: [] as string[], kept: [] as string[], failed: [] as string[] };
    for (const job of listJobsInStatus(db, ["RUNNING"])) {
      if (this.starting.has(job.id)) continue;
      const sandbox = this.sandboxOf(job);
      if (!sandbox) {
        if (markJobRequeued(db, job.id, nowTimestamp(clock))) {
          this.record({
            kind: "job.requeued",
            jobId: job.id,
            msg: "control restarted before a sandbox was requested; queued again",
          });
          outcome.requeued.push(job.id);
        }
        continue;
      }
      linkJobSandbox(db, job.id, sandbox.vmid, nowTimestamp(clock));
      if (sandbox.state === "READY" || sandbox.state === "RUNNING") {
        if (sandbox.state === "READY") moveSandbox(this.deps, sandbox.vmid, "RUNNING", { jobId: job.id });
        outcome.kept.push(job.id);
        continue;
      }
      if (lifecycle.isProvisioning(sandbox.vmid)) continue;
      const starting = STARTING_STATES.includes(sandbox.state);
      if (starting) {
        try {
          moveSandbox(this.deps, sandbox.vmid, "FAILED", { jobId: job.id, reason: RESTARTED_WHILE_PROVISIONING });
        } catch (err) {
          logger.warn({ vmid: sandbox.vmid, err: errorText(err) }, "recovery could not fail an interrupted sandbox");
        }
      }
      const heardFrom = job.lastHeartbeatAt !== null;
      const reason =
        starting || !heardFrom
          ? RESTARTED_WHILE_PROVISIONING
          : `sandbox ${sandbox.vmid} ended (${sandbox.state}${sandbox.terminationReason ? `: ${sandbox.terminationReason}` : ""}) while control was down`;
      // A half-made sandbox is worth nothing, keepalive or not.
      const ended = this.deps.finalizer.finish(job.id, {
        status: "FAILED",
        failureReason: reason,
        resultJson: null,
        message: reason,
        forceDestroy: starting,
      });
      if (ended) outcome.failed.push(job.id);
    }
    return outcome;
  }

  private record(event: { kind: string; jobId: string; sandboxVmid?: number; msg: string; payload?: unknown }): void {
    recordEvent(this.deps.db, this.deps.bus, event, this.deps.clock);
  }
}

/**
 * A repository given as a local path must be visible inside a local sandbox, which otherwise sees
 * neither /tmp, /home nor /root of the host: the runner shows it read-only at the same path.
 */
export function localRepositoryPaths(repoUrl: string): string[] {
  const path = repoUrl.startsWith("file://") ? repoUrl.slice("file://".length) : repoUrl;
  return path.startsWith("/") ? [path.replace(/\/+$/, "") || "/"] : [];
}
