import {
  addEnumPrefix,
  enumDisplayName,
  GetJobResponseSchema,
  type Job,
  JobSchema,
  JobStatus,
  JobStatusSchema,
  toDisplayJson,
} from "@agentlab/api";
import type { Command } from "commander";
import type { CliContext } from "../cli-context.js";
import { OutcomeFailure, UsageError } from "../cli-errors.js";
import { parsePositiveInt, parseTtlMinutes } from "../cli-parsers.js";
import { action, callOptions } from "../command-action.js";
import { paintState } from "../output/colors.js";
import { renderFields } from "../output/output-format.js";
import { eventLine, jobFields, jobTable } from "../views.js";
import { registerJobArtifactsCommands } from "./job-artifacts-command.js";
import { followJob, isFinal } from "./job-follow.js";

interface RunOptions {
  repo: string;
  task?: string;
  taskFile?: string;
  profile: string;
  ref?: string;
  mode?: string;
  ttl?: string;
  keepalive?: boolean;
  agentCommand?: string;
  secretsBundle?: string;
  workspace?: string;
  idempotencyKey?: string;
  follow?: boolean;
}

async function readTask(opts: RunOptions): Promise<string> {
  if (opts.task !== undefined && opts.taskFile !== undefined)
    throw new UsageError("give --task or --task-file, not both");
  if (opts.task !== undefined) return opts.task;
  if (opts.taskFile !== undefined) {
    const { readFile } = await import("node:fs/promises");
    return opts.taskFile === "-" ? readStdin() : readFile(opts.taskFile, "utf8");
  }
  throw new UsageError("a task is required: --task TEXT or --task-file FILE (- for stdin)");
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

/** What a person wants at the end of `job run`: outcome, artifacts, and how to see the patch. */
async function outcomeSummary(ctx: CliContext, job: Job): Promise<string> {
  const status = enumDisplayName(JobStatusSchema, job.status);
  const lines = [
    `job ${job.id} ${paintState(ctx.printer.color, status)}${job.failureReason ? `: ${job.failureReason}` : ""}`,
  ];
  if (job.result) {
    lines.push(`exit code ${job.result.exitCode}, ${job.result.durationSeconds.toFixed(1)}s`);
  }
  try {
    const { artifacts } = await ctx.clients().jobs.listJobArtifacts({ jobId: job.id }, callOptions(ctx));
    if (artifacts.length) {
      lines.push("artifacts:");
      for (const a of artifacts) lines.push(`  ${a.path} (${a.sizeBytes} bytes)`);
      if (artifacts.some((a) => a.name === "changes.patch")) {
        lines.push(`see the patch: agentlab job artifacts download ${job.id} --path changes.patch --out -`);
      }
    }
  } catch {
    // The outcome matters more than the listing; leave it out if it fails.
  }
  return lines.join("\n");
}

function exitFor(job: Job | undefined): void {
  if (!job || job.status !== JobStatus.COMPLETED) throw new OutcomeFailure();
}

export function registerJobCommands(program: Command): void {
  const job = program.command("job").description("run agents on tasks in fresh sandboxes");

  job
    .command("run")
    .description("run an agent on a task in a new sandbox; follows it on a terminal")
    .requiredOption("--repo <url>", "git repository to clone")
    .option("--task <text>", "the task for the agent")
    .option("--task-file <file>", "read the task from a file (- for stdin)")
    .requiredOption("-p, --profile <name>", "sandbox profile")
    .option("--ref <ref>", "branch, tag or commit (default main)")
    .option("--mode <mode>", "free-form mode passed to the agent (default dangerous)")
    .option("--ttl <duration>", "agent time limit: minutes or a duration like 90m")
    .option("--keepalive", "keep the sandbox after the job")
    .option("--agent-command <cmd>", "command to run instead of the profile's agent.command")
    .option("--secrets-bundle <name>", "secrets bundle to deliver to the guest")
    .option("--workspace <id|name>", "attach this workspace")
    .option("--idempotency-key <key>", "retrying with the same key returns the same job")
    .option("--follow", "stream progress until the job ends (default on a terminal)")
    .option("--no-follow", "return as soon as the job is queued")
    .action(
      action(async (ctx, opts: RunOptions) => {
        const res = await ctx.clients().jobs.runJob(
          {
            repoUrl: opts.repo,
            task: await readTask(opts),
            profile: opts.profile,
            ref: opts.ref ?? "",
            mode: opts.mode ?? "",
            ...(opts.ttl ? { ttlMinutes: parseTtlMinutes(opts.ttl) } : {}),
            ...(opts.keepalive ? { keepalive: true } : {}),
            agentCommand: opts.agentCommand ?? "",
            secretsBundle: opts.secretsBundle ?? "",
            workspace: opts.workspace ?? "",
            idempotencyKey: opts.idempotencyKey ?? "",
          },
          callOptions(ctx),
        );
        const queued = res.job;
        if (!queued) throw new Error("control returned no job");
        const follow = opts.follow ?? ctx.stdoutIsTTY;
        if (!follow) {
          return { data: toDisplayJson(JobSchema, queued), fields: jobFields(queued, ctx.printer.color) };
        }
        if (ctx.printer.format === "table") process.stdout.write(`job ${queued.id} queued\n`);
        const final = await followJob(ctx, queued.id);
        if (ctx.printer.format === "table" && final) process.stdout.write(`${await outcomeSummary(ctx, final)}\n`);
        exitFor(final);
        return undefined;
      }),
    );

  job
    .command("show <job>")
    .description("show a job, its result and recent events")
    .option("--events-tail <n>", "how many recent events to show (default 50)")
    .action(
      action(async (ctx, id: string, opts: { eventsTail?: string }) => {
        const res = await ctx
          .clients()
          .jobs.getJob(
            { jobId: id, ...(opts.eventsTail !== undefined ? { eventsTail: Number(opts.eventsTail) } : {}) },
            callOptions(ctx),
          );
        if (!res.job) throw new Error(`control returned no job for ${id}`);
        const text = [renderFields(jobFields(res.job, ctx.printer.color)), "", ...res.events.map(eventLine)].join("\n");
        return { data: toDisplayJson(GetJobResponseSchema, res), text };
      }),
    );

  job
    .command("list")
    .description("list jobs, newest first")
    .option("--status <status...>", "only these statuses, e.g. RUNNING FAILED")
    .option("--profile <name>", "only this profile")
    .option("--limit <n>", "at most N jobs (default 100)")
    .action(
      action(async (ctx, opts: { status?: string[]; profile?: string; limit?: string }) => {
        const statuses = (opts.status ?? []).map((name) => {
          const full = addEnumPrefix(JobStatusSchema, name);
          const value = JobStatusSchema.values.find((v) => v.name === full && v.number !== 0);
          if (!value)
            throw new UsageError(
              `invalid status ${JSON.stringify(name)}: use QUEUED, RUNNING, COMPLETED, FAILED, TIMEOUT or CANCELED`,
            );
          return value.number as JobStatus;
        });
        const res = await ctx
          .clients()
          .jobs.listJobs(
            { statuses, profile: opts.profile ?? "", pageSize: opts.limit ? parsePositiveInt(opts.limit, "limit") : 0 },
            callOptions(ctx),
          );
        return {
          data: res.jobs.map((j) => toDisplayJson(JobSchema, j)),
          table: jobTable(res.jobs, ctx.printer.color, ctx.now()),
        };
      }),
    );

  job
    .command("cancel <job>")
    .description("cancel a job: the guest stops the agent, or the sandbox is destroyed after a grace period")
    .option("--reason <text>", "recorded as the failure reason")
    .action(
      action(async (ctx, id: string, opts: { reason?: string }) => {
        const res = await ctx.clients().jobs.cancelJob({ jobId: id, reason: opts.reason ?? "" }, callOptions(ctx));
        if (!res.job) throw new Error("control returned no job");
        return { data: toDisplayJson(JobSchema, res.job), fields: jobFields(res.job, ctx.printer.color) };
      }),
    );

  job
    .command("logs <job>")
    .description("print a job's output; --follow keeps streaming until it ends")
    .option("-f, --follow", "stream until the job ends")
    .action(
      action(async (ctx, id: string, opts: { follow?: boolean }) => {
        if (opts.follow) {
          const final = await followJob(ctx, id);
          if (final && !isFinal(final)) throw new OutcomeFailure();
          return undefined;
        }
        for await (const update of ctx.clients().jobs.watchJob({ jobId: id, follow: false })) {
          if (update.update.case === "log") {
            const data = update.update.value.data;
            if (ctx.printer.format === "table") process.stdout.write(data.endsWith("\n") ? data : `${data}\n`);
            else
              ctx.printer.line("", { seq: Number(update.update.value.seq), stream: update.update.value.stream, data });
          }
        }
        return undefined;
      }),
    );

  registerJobArtifactsCommands(job);
}
