import { BackendError } from "../../backend-errors.js";
import { type BackoffPolicy, DEFAULT_BACKOFF } from "./backoff.js";
import { type CloneLimiter, createCloneLimiter, DEFAULT_CLONE_CONCURRENCY } from "./clone-limiter.js";
import { createFirstBootFacts, type FirstBootFacts } from "./first-boot-facts.js";
import type { PveDriver } from "./pve-driver.js";
import { createRequestLedger, type RequestLedger } from "./request-ledger.js";
import { type RuntimeDeps, resolveDeps } from "./runtime-deps.js";
import { type SnippetConfig, validateSnippetConfig } from "./snippet-writer.js";
import { createTemplateCache, type TemplateCache } from "./template-cache.js";

/** Options both Proxmox backends share (config keys in docs/proxmox-backends.md). */
export interface ProxmoxCommonOptions {
  /** The ownership tag of this deployment, `agentlab-<deployment_id>` (DESIGN §2). */
  ownerTag: string;
  /** `snippets_dir` (default `/var/lib/vz/snippets`). */
  snippetsDir?: string;
  /** `snippet_storage` (default `local`). */
  snippetStorage?: string;
  /** Single-line SSH public key for the guest's `agent` user, if any. */
  sshPublicKey?: string;
  /** `proxmox_clone_concurrency`: parallel clones per template+storage (default 2). */
  cloneConcurrency?: number;
  /** VMID (≥ 100) owning volumes created without a VM; Proxmox needs one (reference/proxmox.md §2). */
  volumeOwnerVmid?: number;
  /** Reported capacity. */
  maxVms?: number;
  /**
   * Task polling back-off: the API backend's task waiter (default DEFAULT_TASK_POLL, 20 ms → 1 s)
   * and the wait for a clone's `lock: clone` to clear (default 0.5 s → 5 s, §1.4).
   */
  taskPoll?: Partial<BackoffPolicy>;
  /** Lock-retry back-off (default 0.5 s → 5 s with jitter, §3). */
  lockRetry?: Partial<BackoffPolicy>;
  /** Guest-agent polling back-off (default 0.5 s → 5 s). */
  agentPoll?: Partial<BackoffPolicy>;
  /** Attempts for reads that meet an unreachable Proxmox (default 3). */
  readAttempts?: number;
  /** After an unanswered clone call, how long to wait before concluding it never arrived (default 3 s). */
  cloneRecheckGraceMs?: number;
  /** Time given to cleanup after a failed provision, even past the caller's deadline (default 60 s). */
  cleanupGraceMs?: number;
  /**
   * Off by default. When on, a VM carrying our ownership tag (or marker) whose `lock: clone`
   * outlives every clone task that could hold it (none running for the VM or its template) is
   * unlocked (`qm unlock`) instead of reported as `locked` (reference/proxmox.md §5.7 scenario 7).
   * Shell backend only: the API cannot clear a lock with a token (skiplock is root@pam's alone).
   */
  unlockLeakedCloneLocks?: boolean;
  deps?: Partial<RuntimeDeps>;
}

export interface ProxmoxCore {
  driver: PveDriver;
  deps: RuntimeDeps;
  ownerTag: string;
  snippets: SnippetConfig;
  limiter: CloneLimiter;
  ledger: RequestLedger;
  templates: TemplateCache;
  /** net0's MAC and the agent flag, from a provision to the VM's first boot. */
  firstBoot: FirstBootFacts;
  volumeOwnerVmid?: number;
  maxVms: number;
  taskPoll: BackoffPolicy;
  lockRetry: BackoffPolicy;
  agentPoll: BackoffPolicy;
  readAttempts: number;
  cloneRecheckGraceMs: number;
  cleanupGraceMs: number;
  unlockLeakedCloneLocks: boolean;
}

/** Proxmox tags: lower-case `[a-z0-9_][a-z0-9_+.-]*` (they are normalised to lower case on write, §1.5). */
const TAG_PATTERN = /^[a-z0-9_][a-z0-9_+.-]{0,127}$/;

export function policy(partial: Partial<BackoffPolicy> | undefined): BackoffPolicy {
  return { ...DEFAULT_BACKOFF, ...partial };
}

export function resolveCommonOptions(driver: PveDriver, options: ProxmoxCommonOptions): ProxmoxCore {
  if (!TAG_PATTERN.test(options.ownerTag ?? "")) {
    throw new BackendError(
      "invalid_argument",
      `ownership tag ${JSON.stringify(options.ownerTag)} is not a valid Proxmox tag`,
      {
        hint: "deployment_id must be lower-case letters, digits, '-', '_', '.', '+' (the tag is agentlab-<deployment_id>)",
      },
    );
  }
  const snippets: SnippetConfig = {
    snippetsDir: options.snippetsDir ?? "/var/lib/vz/snippets",
    snippetStorage: options.snippetStorage ?? "local",
    ...(options.sshPublicKey ? { sshPublicKey: options.sshPublicKey } : {}),
  };
  validateSnippetConfig(snippets);
  if (
    options.volumeOwnerVmid !== undefined &&
    (!Number.isInteger(options.volumeOwnerVmid) || options.volumeOwnerVmid < 100)
  ) {
    throw new BackendError(
      "invalid_argument",
      `volume owner VMID must be an integer ≥ 100, got ${options.volumeOwnerVmid}`,
      {
        hint: "Proxmox refuses vmid 0 for volumes (reference/proxmox.md §2); reserve an unused VMID from the runner's range",
      },
    );
  }
  const deps = resolveDeps(options.deps);
  if (options.unlockLeakedCloneLocks && !driver.unlock) {
    deps.log.warn(
      "unlockLeakedCloneLocks is on, but this backend cannot clear a lock: Proxmox allows skiplock to root@pam only, not to API tokens; leaked locks are reported instead",
      { backend: driver.kind },
    );
  }
  return {
    driver,
    deps,
    ownerTag: options.ownerTag,
    snippets,
    limiter: createCloneLimiter(options.cloneConcurrency ?? DEFAULT_CLONE_CONCURRENCY),
    ledger: createRequestLedger(deps.now),
    templates: createTemplateCache(deps.now),
    firstBoot: createFirstBootFacts(),
    ...(options.volumeOwnerVmid !== undefined ? { volumeOwnerVmid: options.volumeOwnerVmid } : {}),
    maxVms: options.maxVms ?? 100,
    taskPoll: policy(options.taskPoll),
    lockRetry: policy(options.lockRetry),
    agentPoll: policy(options.agentPoll),
    readAttempts: options.readAttempts ?? 3,
    cloneRecheckGraceMs: options.cloneRecheckGraceMs ?? 3_000,
    cleanupGraceMs: options.cleanupGraceMs ?? 60_000,
    unlockLeakedCloneLocks: options.unlockLeakedCloneLocks === true && driver.unlock !== undefined,
  };
}
