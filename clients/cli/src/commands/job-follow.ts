/**
 * Following a job: renders WatchJob until the job ends. On a TTY a status line (state, elapsed)
 * stays at the bottom while log lines scroll above it; elsewhere log lines and status changes are
 * printed plainly (JSON formats print one JSON document per update). Resumes from the last offsets
 * seen if the stream breaks.
 */
import {
  EventSchema,
  enumDisplayName,
  type Job,
  JobSchema,
  JobStatus,
  JobStatusSchema,
  LogChunkSchema,
  toDisplayJson,
} from "@agentlab/api";
import { Code, ConnectError } from "@connectrpc/connect";
import type { CliContext } from "../cli-context.js";
import { paint, paintState } from "../output/colors.js";
import { formatDuration } from "../output/relative-time.js";

const FINAL = new Set([JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.TIMEOUT, JobStatus.CANCELED]);

export function isFinal(job: Job): boolean {
  return FINAL.has(job.status);
}

export async function followJob(
  ctx: CliContext,
  jobId: string,
  options: { signal?: AbortSignal } = {},
): Promise<Job | undefined> {
  const live = ctx.printer.format === "table" && ctx.stdoutIsTTY;
  let afterEventId = 0n;
  let afterLogSeq = 0n;
  let last: Job | undefined;
  const started = Date.now();
  const statusLine = (job: Job) =>
    `${paint(ctx.printer.color, "bold", job.id)} ${paintState(ctx.printer.color, enumDisplayName(JobStatusSchema, job.status))} ${formatDuration((Date.now() - started) / 1000)}`;
  const clearStatus = () => {
    if (live) process.stdout.write("\r\u001b[2K");
  };
  const drawStatus = () => {
    if (live && last) process.stdout.write(statusLine(last));
  };
  const ticker = live
    ? setInterval(() => {
        clearStatus();
        drawStatus();
      }, 1000)
    : undefined;
  try {
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        const stream = ctx
          .clients()
          .jobs.watchJob(
            { jobId, afterEventId, afterLogSeq, follow: true },
            options.signal ? { signal: options.signal } : {},
          );
        for await (const update of stream) {
          clearStatus();
          switch (update.update.case) {
            case "log": {
              const chunk = update.update.value;
              afterLogSeq = chunk.seq;
              if (ctx.printer.format === "table")
                process.stdout.write(chunk.data.endsWith("\n") ? chunk.data : `${chunk.data}\n`);
              else ctx.printer.line("", { log: toDisplayJson(LogChunkSchema, chunk) });
              break;
            }
            case "event": {
              const event = update.update.value;
              afterEventId = event.id;
              if (ctx.printer.format === "table") {
                if (!event.kind.startsWith("job.log"))
                  process.stdout.write(`${paint(ctx.printer.color, "dim", `[${event.kind}] ${event.msg}`)}\n`);
              } else ctx.printer.line("", { event: toDisplayJson(EventSchema, event) });
              break;
            }
            case "job": {
              const changed = last?.status !== update.update.value.status;
              last = update.update.value;
              if (ctx.printer.format !== "table") ctx.printer.line("", { job: toDisplayJson(JobSchema, last) });
              else if (changed && !live) process.stdout.write(`${statusLine(last)}\n`);
              break;
            }
          }
          drawStatus();
        }
        if (last && isFinal(last)) break;
      } catch (err) {
        if (options.signal?.aborted) break;
        // A broken stream resumes from the offsets already seen: nothing lost, nothing repeated.
        if (!(err instanceof ConnectError) || (err.code !== Code.Unavailable && err.code !== Code.Internal)) throw err;
        await new Promise((r) => setTimeout(r, 500 * (attempt + 1)));
      }
    }
  } finally {
    if (ticker) clearInterval(ticker);
    clearStatus();
  }
  return last;
}
