import {
  AppendLogsRequestSchema,
  type AppendLogsResponse,
  GuestJobStatus,
  GuestService,
  type LogEntry,
  LogEntrySchema,
  ReportStatusRequestSchema,
  type ReportStatusResponse,
} from "@agentlab/api";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import type { TransportFactory } from "./guest-transport.js";
import { type RetryPolicy, type Sleep, withRetry } from "./retry-policy.js";

/** The fields of a status report the guest fills in; job id, VMID and token are added here. */
export type StatusReport = Omit<
  MessageInitShape<typeof ReportStatusRequestSchema>,
  "jobId" | "vmid" | "reportToken" | "$typeName"
>;

export interface ControlChannelOptions {
  controller: string;
  jobId: string;
  vmid: number;
  reportToken: string;
  createTransport: TransportFactory;
  sleep: Sleep;
  now: () => number;
  log: (line: string) => void;
  /** Hides secrets in report messages. */
  redact: (text: string) => string;
}

/**
 * Everything the guest says to control about a job. It remembers when control last heard from the
 * guest (so the heartbeat only speaks when nothing else did) and whether a reply asked to cancel.
 */
export class ControlChannel {
  private readonly client;
  private lastContactMs = 0;
  private cancelListeners: (() => void)[] = [];
  /** True once any reply carried cancel_requested. */
  cancelRequested = false;

  constructor(private readonly options: ControlChannelOptions) {
    this.client = createClient(GuestService, options.createTransport(options.controller));
  }

  /** Milliseconds since control last answered. */
  sinceLastContactMs(): number {
    return this.options.now() - this.lastContactMs;
  }

  /** Called once when a cancel is first seen (at once if it was seen already). */
  onCancel(listener: () => void): void {
    if (this.cancelRequested) listener();
    else this.cancelListeners.push(listener);
  }

  private noteReply(reply: { cancelRequested: boolean }): void {
    this.lastContactMs = this.options.now();
    if (reply.cancelRequested && !this.cancelRequested) {
      this.cancelRequested = true;
      this.options.log("control asked to cancel the job");
      const listeners = this.cancelListeners;
      this.cancelListeners = [];
      for (const listener of listeners) listener();
    }
  }

  /** One ReportStatus call, no retry. */
  async reportStatus(report: StatusReport): Promise<ReportStatusResponse> {
    const reply = await this.client.reportStatus(
      create(ReportStatusRequestSchema, {
        ...report,
        message: this.options.redact(report.message ?? ""),
        jobId: this.options.jobId,
        vmid: this.options.vmid,
        reportToken: this.options.reportToken,
      }),
    );
    this.noteReply(reply);
    return reply;
  }

  /** A progress report that must not stop the job when control is briefly unreachable. */
  async reportRunning(message: string): Promise<void> {
    try {
      await this.reportStatus({ status: GuestJobStatus.RUNNING, message });
    } catch (err) {
      this.options.log(`ReportStatus RUNNING (${message}) failed: ${(err as Error).message}`);
    }
  }

  /**
   * The final report, retried. A job control already holds as final (FAILED_PRECONDITION) counts as
   * delivered: an earlier run of this guest got its report through before it died.
   */
  async reportFinal(report: StatusReport, policy: RetryPolicy): Promise<void> {
    try {
      await withRetry(
        policy,
        {
          sleep: this.options.sleep,
          onRetry: (err, attempt, delayMs) =>
            this.options.log(
              `final ReportStatus attempt ${attempt} failed (${(err as Error).message}); retry in ${delayMs} ms`,
            ),
        },
        () => this.reportStatus(report),
      );
    } catch (err) {
      if (err instanceof ConnectError && err.code === Code.FailedPrecondition) {
        this.options.log(`control already holds job ${this.options.jobId} as final: ${err.rawMessage}`);
        return;
      }
      throw err;
    }
  }

  /** One AppendLogs call, no retry; the log streamer decides when to try again. */
  async appendLogs(entries: LogEntry[]): Promise<AppendLogsResponse> {
    const reply = await this.client.appendLogs(
      create(AppendLogsRequestSchema, {
        jobId: this.options.jobId,
        vmid: this.options.vmid,
        reportToken: this.options.reportToken,
        entries,
      }),
    );
    this.noteReply(reply);
    return reply;
  }
}

/** A log entry as sent. */
export function logEntry(seq: bigint, stream: string, data: string, atMs: number): LogEntry {
  return create(LogEntrySchema, { seq, stream, data, ts: timestampFromMs(atMs) });
}
