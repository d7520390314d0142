/**
 * Jobs at scale and a job's overhead, end to end with the real binaries (test/e2e/support's
 * deployments: agentlabd as a child process, the real guest runner).
 *
 *   (a) N concurrent jobs (trivial agent) on proxmox-api against pve-sim with the reference's
 *       realistic durations (reference/proxmox.md §5.4) × BENCH_TIME_SCALE (default 1), the default
 *       clone concurrency (2): success rate and makespan against the lower bound the clone limit and
 *       the simulator's timings allow.
 *   (b) A local-backend job's overhead outside the agent: `job run` → the agent's first output, and
 *       the agent's exit → its sandbox destroyed, from control's event and log timestamps.
 *
 *   npm run bench:jobs -w bench            (BENCH_JOBS=50 BENCH_TIME_SCALE=1 BENCH_LOCAL_RUNS=5)
 */
import { connect as netConnect } from "node:net";
import { type Job, JobService, JobStatus } from "@agentlab/api";
import { DEFAULT_DURATIONS } from "@agentlab/pve-sim";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import type { EventJson } from "../../test/e2e/support/job-waits.js";
import { type JobsDeployment, startJobsDeployment } from "../../test/e2e/support/jobs-deployment.js";

const JOBS = Number(process.env.BENCH_JOBS ?? 50);
const TIME_SCALE = Number(process.env.BENCH_TIME_SCALE ?? 1);
const LOCAL_RUNS = Number(process.env.BENCH_LOCAL_RUNS ?? 5);
const CLONE_CONCURRENCY = 2;
const FINAL = new Set([JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.TIMEOUT, JobStatus.CANCELED]);

function jobClient(d: JobsDeployment) {
  const socketPath = d.deployment.socketPath;
  return createClient(
    JobService,
    createGrpcTransport({
      baseUrl: "http://localhost",
      nodeOptions: { createConnection: () => netConnect(socketPath) },
    }),
  );
}

function table(rows: Array<[string, string]>): string {
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`).join("\n");
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;

async function concurrentJobs(): Promise<void> {
  // The guest unit starts once the VM's OS has booted, which is when the QEMU guest agent answers
  // (agentReady after start); the sim would otherwise run it the instant the VM starts.
  const bootMs = DEFAULT_DURATIONS.agentReady * TIME_SCALE;
  const d = await startJobsDeployment({
    backend: "proxmox-api",
    sim: { timeScale: TIME_SCALE },
    guestStartDelayMs: bootMs,
    // Admission must not be the limit being measured: every job may hold a sandbox at once.
    config: { max_active_sandboxes: JOBS, proxmox_clone_concurrency: CLONE_CONCURRENCY },
  });
  try {
    const jobs = jobClient(d);
    const started = Date.now();
    const ids = await Promise.all(
      Array.from({ length: JOBS }, async (_, i) => {
        const res = await jobs.runJob({
          repoUrl: d.repo.path,
          task: `bench job ${i}`,
          profile: d.profile,
          agentCommand: "echo bench",
          idempotencyKey: `bench-${i}`,
        });
        return res.job!.id;
      }),
    );
    let finals: Job[] = [];
    for (;;) {
      const all = await Promise.all(ids.map(async (jobId) => (await jobs.getJob({ jobId, eventsTail: 0 })).job!));
      finals = all.filter((j) => FINAL.has(j.status));
      if (finals.length === ids.length) break;
      if (Date.now() - started > 30 * 60_000)
        throw new Error(`only ${finals.length}/${ids.length} jobs ended in 30 min`);
      await new Promise((r) => setTimeout(r, 1_000));
    }
    const createdAt = Math.min(...finals.map((j) => timestampDate(j.createdAt!).getTime()));
    const finishedAt = Math.max(...finals.map((j) => timestampDate(j.finishedAt!).getTime()));
    const makespan = finishedAt - createdAt;
    const completed = finals.filter((j) => j.status === JobStatus.COMPLETED).length;
    const failures = finals.filter((j) => j.status !== JobStatus.COMPLETED).map((j) => `${j.id}: ${j.failureReason}`);

    const dur = DEFAULT_DURATIONS;
    const disks = 2; // template 9000: scsi0 + the cloud-init drive, each allocated under the storage lock
    const cloneMs = (disks * dur.storageAlloc + dur.cloneLinked) * TIME_SCALE;
    const cloneWaves = Math.ceil(JOBS / CLONE_CONCURRENCY);
    const lockMs = JOBS * disks * dur.storageAlloc * TIME_SCALE;
    const tailMs = (dur.config + dur.start) * TIME_SCALE + bootMs;
    const bound = Math.max(cloneWaves * cloneMs, lockMs) + tailMs;
    process.stdout.write(
      `\n(a) ${JOBS} concurrent jobs, proxmox-api + pve-sim, timeScale ${TIME_SCALE}, clone concurrency ${CLONE_CONCURRENCY}\n`,
    );
    process.stdout.write(
      `${table([
        ["success", `${completed}/${JOBS} (${((100 * completed) / JOBS).toFixed(0)} %)`],
        ["makespan (first queued → last final)", seconds(makespan)],
        ["lower bound", seconds(bound)],
        ["makespan / bound", `${(makespan / bound).toFixed(2)} (goal ≤ 1.20)`],
      ])}\n`,
    );
    process.stdout.write(
      [
        "  bound = max(ceil(N / c) × T_clone, N × disks × T_alloc) + T_config + T_start + T_boot",
        `        = max(${cloneWaves} × ${seconds(cloneMs)}, ${JOBS} × ${disks} × ${seconds(dur.storageAlloc * TIME_SCALE)}) + ${seconds(tailMs)}`,
        "    T_clone = disks × storageAlloc + cloneLinked (one linked-clone task; at most c at once)",
        "    T_boot  = agentReady: the last clone's VM must start and boot before its guest can run;",
        "    the guest's own work (fetch, git clone, agent, uploads, report) is left out of the bound.",
        "",
      ].join("\n"),
    );
    for (const f of failures.slice(0, 10)) process.stdout.write(`  failed: ${f}\n`);
  } finally {
    await d.close();
  }
}

async function localOverhead(): Promise<void> {
  const d = await startJobsDeployment({ backend: "local" });
  const toFirstOutput: number[] = [];
  const exitToDestroyed: number[] = [];
  try {
    for (let i = 0; i < LOCAL_RUNS; i++) {
      const queued = await d.cliJson<{ id: string }>([
        "job",
        "run",
        "--repo",
        d.repo.path,
        "--task",
        "bench",
        "--profile",
        d.profile,
        "--agent-command",
        "echo agent-first-output",
        "--no-follow",
      ]);
      const jobId = queued.id;
      const events = await d.cliJson<EventJson[]>(["events", "--job", jobId, "--tail", "1000"]);
      const queuedAt = Date.parse(events.find((e) => e.kind === "job.queued")!.ts);
      // The sandbox's DESTROYED transition does not carry the job id: read its VMID's events since
      // the job was queued (runs are sequential, so a reused VMID is this job's sandbox).
      let destroyedAt: number | undefined;
      for (;;) {
        const job = await d.cliJson<{ job: { sandbox_vmid?: number } }>(["job", "show", jobId]);
        const vmid = job.job.sandbox_vmid;
        if (vmid) {
          const sandboxEvents = await d.cliJson<EventJson[]>(["events", "--sandbox", String(vmid), "--tail", "1000"]);
          const destroyed = sandboxEvents.find(
            (e) => e.kind === "sandbox.state" && /-> DESTROYED/.test(e.msg ?? "") && Date.parse(e.ts) >= queuedAt,
          );
          if (destroyed) {
            destroyedAt = Date.parse(destroyed.ts);
            break;
          }
        }
        await new Promise((r) => setTimeout(r, 200));
      }
      // Following a finished job replays its log chunks with their timestamps, then ends.
      const logs = (await d.cli(["job", "logs", jobId, "--follow", "--output", "json"])).stdout
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { log?: { stream: string; data: string; ts: string } })
        .flatMap((l) => (l.log ? [l.log] : []));
      const first = logs.find((l) => l.stream === "stdout" && l.data.includes("agent-first-output"));
      const exited = logs.find((l) => l.stream === "system" && /^agent exited with code/m.test(l.data));
      if (!first || !exited) {
        throw new Error(`job ${jobId}: no agent output or exit line in ${JSON.stringify(logs)}`);
      }
      toFirstOutput.push(Date.parse(first.ts) - queuedAt);
      exitToDestroyed.push(destroyedAt - Date.parse(exited.ts));
    }
  } finally {
    await d.close();
  }
  const stats = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return `median ${seconds(s[Math.floor(s.length / 2)]!)}, min ${seconds(s[0]!)}, max ${seconds(s.at(-1)!)}`;
  };
  process.stdout.write(`\n(b) local backend, one job at a time, ${LOCAL_RUNS} runs (trivial agent)\n`);
  process.stdout.write(
    `${table([
      ["job.queued → agent's first output", stats(toFirstOutput)],
      ["agent exit → sandbox DESTROYED", stats(exitToDestroyed)],
    ])}\n`,
  );
  process.stdout.write("  timestamps: control's job.queued and sandbox.state events; the guest's log chunk times\n");
}

const only = process.env.BENCH_ONLY;
if (!only || only === "a") await concurrentJobs();
if (!only || only === "b") await localOverhead();
