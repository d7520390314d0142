/**
 * The sandbox operations behind SandboxService and the job orchestrator: create (admission, VMID,
 * provisioning through a runner), destroy, start, stop, lease renewal and prune. Provisioning runs
 * in the background and is tracked per VMID so a forced destroy can interrupt it and a control
 * shutdown can wait for it.
 */
import { randomUUID } from "node:crypto";
import {
  ConflictError,
  FailedPreconditionError,
  type Logger,
  NotFoundError,
  ResourceExhaustedError,
} from "@agentlab/core";
import { formatTimestamp, nowTimestamp } from "../db/timestamps.js";
import { recordEvent } from "../events/record-event.js";
import { applyProfileDefaults } from "../profiles/profile-defaults.js";
import type { LoadedProfile } from "../profiles/profile-loader.js";
import { requireProfile } from "../profiles/profile-lookup.js";
import type { ProfileRegistry } from "../profiles/profile-registry.js";
import type { RunnerHandle, RunnerPool } from "../runners/runner-pool.js";
import { issueBootstrapDocument } from "../tokens/bootstrap-data.js";
import { detachWorkspacesOfSandbox } from "../workspaces/workspace-store.js";
import { errorText } from "./runner-call.js";
import { checkAdmission } from "./sandbox-admission.js";
import { adoptionHintFor } from "./sandbox-adoption.js";
import { checkSandboxName, checkTtlMinutes, defaultSandboxName } from "./sandbox-names.js";
import type { SandboxPolicy } from "./sandbox-policy.js";
import { ownerTagFor } from "./sandbox-policy.js";
import { provisionSandbox, VmidTakenError } from "./sandbox-provisioner.js";
import type { SandboxRecord } from "./sandbox-record.js";
import { ENDED_STATES, NON_TERMINAL_STATES, type SandboxStateName } from "./sandbox-state-machine.js";
import {
  findSandboxByRequestId,
  getSandbox,
  insertSandbox,
  listSandboxesInStates,
  resolveSandbox,
  type SandboxRef,
  updateSandbox,
} from "./sandbox-store.js";
import { moveSandbox, type SandboxStateContext, transitionSandbox } from "./sandbox-transitions.js";
import { bootVm } from "./vm-boot.js";
import { allocateVmid } from "./vmid-allocator.js";

export interface SandboxLifecycleDeps extends SandboxStateContext {
  runners: RunnerPool;
  profiles: ProfileRegistry;
  policy: SandboxPolicy;
  logger: Logger;
}

export interface CreateSandboxInput {
  profile: string;
  name?: string;
  ttlMinutes?: number;
  keepalive?: boolean;
  workspaceId?: string;
  /** Idempotency key; a retried request with the same key gets the same sandbox. */
  requestId?: string;
  /** Wait until READY (or failure). */
  wait: boolean;
  jobId?: string;
  /** Lease floor (jobs: TTL plus upload grace). */
  minimumLeaseMinutes?: number;
  /** Local sandboxes: host directories to show read-only (a job's repository given as a path). */
  readOnlyPaths?: string[];
}

interface InFlight {
  abort: AbortController;
  done: Promise<unknown>;
}

/** Sandbox states from which a sandbox may be stopped. */
const STOPPABLE: readonly SandboxStateName[] = ["READY", "RUNNING", "COMPLETED", "FAILED", "TIMEOUT"];
/** States whose lease can be renewed. */
const RENEWABLE: readonly SandboxStateName[] = [...NON_TERMINAL_STATES, "STOPPED"];

export class SandboxLifecycle {
  private readonly inFlight = new Map<number, InFlight>();

  constructor(private readonly deps: SandboxLifecycleDeps) {}

  async create(input: CreateSandboxInput): Promise<SandboxRecord> {
    const { db } = this.deps;
    if (input.requestId) {
      const existing = findSandboxByRequestId(db, input.requestId);
      if (existing) return input.wait ? this.waitSettled(existing.vmid) : existing;
    }
    const profile = requireProfile(this.deps.profiles, input.profile);
    if (input.name !== undefined && input.name !== "") checkSandboxName(input.name);
    checkTtlMinutes(input.ttlMinutes);
    const lifetime = applyProfileDefaults(
      { keepalive: input.keepalive, ttlMinutes: input.ttlMinutes },
      profile.profile,
    );
    const verdict = checkAdmission(db, {
      maxActive: this.deps.policy.maxActiveSandboxes,
      profile: profile.name,
      profileMaxActive: profile.profile.behavior.max_active,
    });
    if (!verdict.admitted) {
      throw new ResourceExhaustedError({
        message: `cannot create a sandbox now: ${verdict.reason}`,
        hint: "wait for running sandboxes to finish, destroy some, or raise the cap",
        retryAfterSeconds: 30,
      });
    }
    const runner = await this.deps.runners.place();
    const ttl = lifetime.ttlMinutes.value;
    const leaseMinutes = ttl === null ? null : Math.max(ttl, input.minimumLeaseMinutes ?? 0);
    const skip = new Set<number>();
    for (let attempt = 1; ; attempt++) {
      const record = this.insert(input, profile, runner, lifetime.keepalive.value, leaseMinutes, skip);
      const settled = this.startProvisioning(record, runner, profile, input.jobId, input.readOnlyPaths);
      if (!input.wait) {
        settled.catch(() => {});
        return record;
      }
      try {
        return await settled;
      } catch (err) {
        if (!(err instanceof VmidTakenError) || attempt >= this.deps.policy.vmidAttempts) throw err;
        skip.add(record.vmid);
        // The idempotency key moves to the next attempt's row: a retried request must find that one.
        updateSandbox(this.deps.db, record.vmid, nowTimestamp(this.deps.clock), { requestId: null });
      }
    }
  }

  private insert(
    input: CreateSandboxInput,
    profile: LoadedProfile,
    runner: RunnerHandle,
    keepalive: boolean,
    leaseMinutes: number | null,
    skip: Set<number>,
  ): SandboxRecord {
    const { db, clock } = this.deps;
    const now = clock();
    // Allocation and insert happen in one synchronous step: no other request can take the VMID between.
    const vmid = allocateVmid(db, runner.vmidRange, skip);
    const record = insertSandbox(
      db,
      {
        vmid,
        name: input.name || defaultSandboxName(vmid),
        profile: profile.name,
        keepalive,
        leaseExpiresAt: leaseMinutes === null ? null : formatTimestamp(new Date(now.getTime() + leaseMinutes * 60_000)),
        ownerTag: ownerTagFor(this.deps.policy.deploymentId),
        runner: runner.name,
        requestId: input.requestId ?? null,
        workspaceId: input.workspaceId ?? null,
        meta: { backend: profile.profile.backend },
      },
      formatTimestamp(now),
    );
    recordEvent(
      db,
      this.deps.bus,
      {
        kind: "sandbox.created",
        sandboxVmid: vmid,
        ...(input.jobId ? { jobId: input.jobId } : {}),
        msg: `sandbox ${record.name} requested from profile ${profile.name} on runner ${runner.name}`,
        payload: { profile: profile.name, runner: runner.name },
      },
      clock,
    );
    return record;
  }

  private startProvisioning(
    record: SandboxRecord,
    runner: RunnerHandle,
    profile: LoadedProfile,
    jobId: string | undefined,
    readOnlyPaths: string[] | undefined,
  ): Promise<SandboxRecord> {
    const abort = new AbortController();
    const bootstrapJson = issueBootstrapDocument(
      this.deps.db,
      { vmid: record.vmid, jobId: jobId ?? null, backend: profile.profile.backend },
      { controllerUrl: this.deps.policy.controllerUrl },
      this.deps.clock(),
      this.deps.policy.bootstrapTokenTtlMs,
    );
    const done = provisionSandbox(this.deps, {
      record,
      runner,
      profile,
      bootstrapJson,
      signal: abort.signal,
      ...(jobId ? { jobId } : {}),
      ...(readOnlyPaths ? { readOnlyPaths } : {}),
    });
    const entry = { abort, done };
    this.inFlight.set(record.vmid, entry);
    const forget = () => {
      if (this.inFlight.get(record.vmid) === entry) this.inFlight.delete(record.vmid);
    };
    done.then(forget, (err) => {
      forget();
      this.deps.logger.warn({ vmid: record.vmid, err: errorText(err) }, "sandbox provisioning failed");
    });
    return done;
  }

  /** Resolves once a sandbox is no longer being provisioned by this process. */
  private async waitSettled(vmid: number): Promise<SandboxRecord> {
    await this.inFlight.get(vmid)?.done.catch(() => {});
    return getSandbox(this.deps.db, vmid);
  }

  isProvisioning(vmid: number): boolean {
    return this.inFlight.has(vmid);
  }

  async destroy(ref: SandboxRef, options: { force?: boolean; reason?: string } = {}): Promise<SandboxRecord> {
    const { db } = this.deps;
    let record = resolveSandbox(db, ref);
    if (record.state === "DESTROYED") return record;
    const running = this.inFlight.get(record.vmid);
    if (running) {
      running.abort.abort(new Error("destroyed while provisioning"));
      await running.done.catch(() => {});
      record = getSandbox(db, record.vmid);
      if (record.state === "DESTROYED") return record;
    }
    let reason = options.reason || "destroyed by user";
    const runner = this.deps.runners.get(record.runner);
    try {
      await runner.client.destroyVm(
        {
          requestId: `destroy-${record.vmid}-${randomUUID()}`,
          vmid: record.vmid,
          ...(this.deps.policy.adoptUntaggedVms ? adoptionHintFor(db, record) : {}),
        },
        { timeoutMs: this.deps.policy.provisioningTimeoutMs },
      );
    } catch (err) {
      if (!options.force) throw err;
      reason = `${reason} (forced; the VM may remain: ${errorText(err)})`;
    }
    detachWorkspacesOfSandbox(db, record.vmid, nowTimestamp(this.deps.clock));
    return moveSandbox(this.deps, record.vmid, "DESTROYED", { reason });
  }

  async stop(ref: SandboxRef): Promise<SandboxRecord> {
    const record = resolveSandbox(this.deps.db, ref);
    if (record.state === "STOPPED") return record;
    if (!STOPPABLE.includes(record.state)) {
      throw new FailedPreconditionError({
        message: `sandbox ${record.name} is ${record.state} and cannot be stopped`,
        hint: `stop works in ${STOPPABLE.join(", ")}`,
      });
    }
    const runner = this.deps.runners.get(record.runner);
    await runner.client.stopVm(
      {
        requestId: `stop-${record.vmid}-${randomUUID()}`,
        vmid: record.vmid,
        ...(this.deps.policy.adoptUntaggedVms ? adoptionHintFor(this.deps.db, record) : {}),
      },
      { timeoutMs: this.deps.policy.bootTimeoutMs },
    );
    return transitionSandbox(this.deps, record.vmid, record.state, "STOPPED", { reason: "stopped by user" });
  }

  async start(ref: SandboxRef): Promise<SandboxRecord> {
    const record = resolveSandbox(this.deps.db, ref);
    if (record.state === "READY" || record.state === "RUNNING") return record;
    if (record.state !== "STOPPED") {
      throw new FailedPreconditionError({
        message: `sandbox ${record.name} is ${record.state}; only STOPPED sandboxes can be started`,
      });
    }
    const runner = this.deps.runners.get(record.runner);
    const now = () => this.deps.clock().getTime();
    const deadline = now() + this.deps.policy.bootTimeoutMs;
    transitionSandbox(this.deps, record.vmid, "STOPPED", "BOOTING");
    try {
      const ip = await bootVm(
        runner.client,
        { requestId: `start-${record.vmid}-${randomUUID()}`, vmid: record.vmid },
        deadline,
        now,
      );
      return transitionSandbox(this.deps, record.vmid, "BOOTING", "READY", { ip });
    } catch (err) {
      moveSandbox(this.deps, record.vmid, "FAILED", { reason: `start failed: ${errorText(err)}` });
      throw err;
    }
  }

  renewLease(ref: SandboxRef, ttlMinutes: number): SandboxRecord {
    checkTtlMinutes(ttlMinutes);
    const { db, clock } = this.deps;
    const record = resolveSandbox(db, ref);
    if (!RENEWABLE.includes(record.state)) {
      throw new FailedPreconditionError({
        message: `sandbox ${record.name} is ${record.state}; its lease cannot be renewed`,
        hint: `leases can be renewed in ${RENEWABLE.join(", ")}`,
      });
    }
    const expires = formatTimestamp(new Date(clock().getTime() + ttlMinutes * 60_000));
    updateSandbox(db, record.vmid, nowTimestamp(clock), { leaseExpiresAt: expires });
    recordEvent(
      db,
      this.deps.bus,
      {
        kind: "sandbox.lease",
        sandboxVmid: record.vmid,
        msg: `lease renewed until ${expires}`,
        payload: { ttl_minutes: ttlMinutes },
      },
      clock,
    );
    return getSandbox(db, record.vmid);
  }

  /** Sandboxes prune would destroy: ended ones, except STOPPED sandboxes kept alive on purpose. */
  pruneCandidates(): SandboxRecord[] {
    return listSandboxesInStates(this.deps.db, ENDED_STATES).filter((s) => s.state !== "STOPPED" || !s.keepalive);
  }

  async prune(dryRun: boolean): Promise<number[]> {
    const candidates = this.pruneCandidates();
    if (dryRun) return candidates.map((s) => s.vmid);
    const destroyed: number[] = [];
    for (const s of candidates) {
      try {
        await this.destroy({ vmid: s.vmid }, { reason: `pruned (was ${s.state})` });
        destroyed.push(s.vmid);
      } catch (err) {
        if (err instanceof ConflictError || err instanceof NotFoundError) continue;
        this.deps.logger.warn({ vmid: s.vmid, err: errorText(err) }, "prune could not destroy sandbox");
      }
    }
    return destroyed;
  }

  /**
   * At shutdown: interrupts provisioning in progress and waits for it to clean up. A sandbox that was
   * half-built ends FAILED with the reason, exactly as the next start would have decided.
   */
  async drain(): Promise<void> {
    const running = [...this.inFlight.values()];
    for (const f of running) f.abort.abort(new Error("control is shutting down"));
    await Promise.allSettled(running.map((f) => f.done));
  }
}
