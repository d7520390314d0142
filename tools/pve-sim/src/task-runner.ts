import { asPveError, PveError } from "./pve-error.js";
import { interruptedBySignal } from "./pve-messages.js";
import type { RandomSource } from "./seeded-random.js";
import type { SimClock } from "./sim-clock.js";
import { formatUpid } from "./upid.js";

/**
 * PVE worker tasks (reference/proxmox.md §1.4, §5.2): a UPID returned at once, the work done
 * asynchronously on the injected clock, an exit status of `OK`, `WARNINGS: n` or the error text
 * (newlines folded), a log ending in `TASK OK` / `TASK WARNINGS: n` / `TASK ERROR: …`.
 */
export interface SimTask {
  upid: string;
  node: string;
  pid: number;
  pstart: number;
  starttime: number;
  type: string;
  id: string;
  /** The full authid (`root@pam!runner`). */
  user: string;
  status: "running" | "stopped";
  exitstatus: string | undefined;
  endtime: number | undefined;
  log: string[];
  warnings: number;
  controller: AbortController;
  /** Settles when the task stops (never rejects). */
  done: Promise<void>;
}

/** What the fault injector may impose on one task (§5.5). */
export interface TaskFaults {
  failWith?: string;
  warnings?: number;
  stuck?: boolean;
  slowFactor?: number;
  leakLock?: string | true;
}

export interface TaskContext {
  task: SimTask;
  signal: AbortSignal;
  log(line: string): void;
  /** Counts a warning (ends the task with `WARNINGS: n`) and logs `WARN: …`. */
  warn(line: string): void;
  /** Sleeps on the sim clock (times any `taskSlow` factor); rejects when the task is aborted. */
  sleep(ms: number): Promise<void>;
}

/** What a worker reports back: the config lock it held, so `leakLock` can leave it behind. */
export interface TaskOutcome {
  heldLock?: { vmid: number; reason: string };
}

export type TaskWorker = (ctx: TaskContext) => Promise<TaskOutcome | undefined>;

export interface TaskRunnerDeps {
  node: string;
  clock: SimClock;
  random: RandomSource;
  tasks: Map<string, SimTask>;
  /** Called with the held lock when a `leakLock` fault fires. */
  leakLock(vmid: number, reason: string): void;
}

export class TaskRunner {
  private readonly deps: TaskRunnerDeps;
  private readonly pstart: number;

  constructor(deps: TaskRunnerDeps) {
    this.deps = deps;
    this.pstart = 0x1000000 + Math.floor(deps.random() * 0xe000000);
  }

  start(type: string, id: string, user: string, worker: TaskWorker, faults: TaskFaults = {}): SimTask {
    const { clock, random, node } = this.deps;
    const pid = 0x1000 + Math.floor(random() * 0x3ff000);
    const starttime = Math.floor(clock.now() / 1000);
    const upid = formatUpid({ node, pid, pstart: this.pstart, starttime, type, id, user });
    const controller = new AbortController();
    let finish: () => void = () => {};
    const task: SimTask = {
      upid,
      node,
      pid,
      pstart: this.pstart,
      starttime,
      type,
      id,
      user,
      status: "running",
      exitstatus: undefined,
      endtime: undefined,
      log: [],
      warnings: 0,
      controller,
      done: new Promise((resolve) => {
        finish = resolve;
      }),
    };
    this.deps.tasks.set(upid, task);
    const slow = faults.slowFactor ?? 1;
    const ctx: TaskContext = {
      task,
      signal: controller.signal,
      log: (line) => {
        task.log.push(line);
      },
      warn: (line) => {
        task.warnings++;
        task.log.push(`WARN: ${line}`);
      },
      sleep: (ms) =>
        new Promise((resolve, reject) => {
          if (controller.signal.aborted) {
            reject(controller.signal.reason);
            return;
          }
          const onAbort = (): void => {
            cancel();
            reject(controller.signal.reason);
          };
          const cancel = clock.setTimer(ms * slow, () => {
            controller.signal.removeEventListener("abort", onAbort);
            resolve();
          });
          controller.signal.addEventListener("abort", onAbort, { once: true });
        }),
    };
    const run = async (): Promise<TaskOutcome | undefined> => {
      if (faults.stuck) {
        await new Promise<void>((_resolve, reject) => {
          controller.signal.addEventListener("abort", () => reject(controller.signal.reason), { once: true });
        });
      }
      if (faults.failWith !== undefined) {
        await ctx.sleep(0);
        throw new PveError(500, faults.failWith);
      }
      return worker(ctx);
    };
    // The worker runs after the caller has the UPID, like a forked pvedaemon worker.
    queueMicrotask(() => {
      run().then(
        (outcome) => {
          if (faults.warnings) {
            for (let i = 0; i < faults.warnings; i++) ctx.warn("simulated warning (fault injection)");
          }
          if (faults.leakLock && outcome?.heldLock) {
            const reason = faults.leakLock === true ? outcome.heldLock.reason : faults.leakLock;
            this.deps.leakLock(outcome.heldLock.vmid, reason);
          }
          this.finish(task, task.warnings > 0 ? `WARNINGS: ${task.warnings}` : "OK");
          finish();
        },
        (err: unknown) => {
          const message = asPveError(err)
            .message.trim()
            .replace(/\s*\n\s*/g, " ");
          this.finish(task, message);
          finish();
        },
      );
    });
    return task;
  }

  private finish(task: SimTask, exitstatus: string): void {
    task.status = "stopped";
    task.exitstatus = exitstatus;
    task.endtime = Math.floor(this.deps.clock.now() / 1000);
    if (exitstatus === "OK") task.log.push("TASK OK");
    else if (exitstatus.startsWith("WARNINGS: ")) task.log.push(`TASK ${exitstatus}`);
    else task.log.push(`TASK ERROR: ${exitstatus}`);
  }

  /** DELETE …/tasks/{upid}: the worker sees `interrupted by signal` (§1.4, §5.3). */
  abort(task: SimTask): void {
    if (task.status === "running") task.controller.abort(new PveError(500, interruptedBySignal));
  }

  abortAll(): Promise<void> {
    const running = [...this.deps.tasks.values()].filter((t) => t.status === "running");
    for (const task of running) this.abort(task);
    return Promise.all(running.map((t) => t.done)).then(() => undefined);
  }
}
