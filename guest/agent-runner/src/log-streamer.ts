import { closeSync, openSync, writeSync } from "node:fs";
import type { AppendLogsResponse, LogEntry } from "@agentlab/api";
import { logEntry } from "./control-channel.js";
import { errorMessage } from "./guest-error.js";
import { type RetryPolicy, type Sleep, withRetry } from "./retry-policy.js";

export type LogStream = "stdout" | "stderr" | "system";

export interface LogStreamerOptions {
  /** The full, redacted log (agent.log in the artifacts). */
  logFile: string;
  /** Sends one batch to control; no retry inside. */
  send: (entries: LogEntry[]) => Promise<AppendLogsResponse>;
  /** Bytes of agent output streamed to control at most; the log file gets everything. */
  maxStreamBytes: number;
  /** First sequence number (1, or one past what control stored before a restart). */
  firstSeq: bigint;
  /** How often pending output is sent. */
  flushIntervalMs: number;
  now: () => number;
  sleep: Sleep;
  /** The runner's own log, for send failures. */
  log: (line: string) => void;
}

interface PendingChunk {
  stream: LogStream;
  data: string;
  atMs: number;
}

/** A batch is at most this many bytes of data; the contract allows 1 MiB per AppendLogs. */
const MAX_BATCH_BYTES = 512 * 1024;
/** Adjacent chunks of one stream are merged into entries up to this size. */
const MAX_ENTRY_BYTES = 32 * 1024;

const byteLength = (text: string) => Buffer.byteLength(text, "utf8");

/**
 * Writes already-redacted output to the log file and streams it to control. Sequence numbers are
 * given when a batch is formed and a failed batch is resent unchanged, so control's de-duplication
 * by seq makes retries harmless and the numbers have no gaps.
 */
export class LogStreamer {
  private readonly fd: number;
  private pending: PendingChunk[] = [];
  private unacked: LogEntry[] = [];
  private nextSeq: bigint;
  private streamedBytes = 0;
  private limitReached = false;
  private sending: Promise<void> = Promise.resolve();
  private readonly timer: NodeJS.Timeout;
  private closed = false;

  constructor(private readonly options: LogStreamerOptions) {
    this.fd = openSync(options.logFile, "a", 0o600);
    this.nextSeq = options.firstSeq;
    this.timer = setInterval(() => void this.flush(), options.flushIntervalMs);
    this.timer.unref();
  }

  /** Agent output (already redacted). */
  write(stream: "stdout" | "stderr", data: string): void {
    if (!data || this.closed) return;
    writeSync(this.fd, data);
    if (this.limitReached) return;
    const budget = this.options.maxStreamBytes - this.streamedBytes;
    let accepted = data;
    if (byteLength(data) > budget) {
      // Cut on a character boundary at or below the budget.
      accepted = Buffer.from(data, "utf8")
        .subarray(0, Math.max(budget, 0))
        .toString("utf8")
        .replace(/\uFFFD$/, "");
      this.limitReached = true;
    }
    if (accepted) this.queue(stream, accepted);
    this.streamedBytes += byteLength(accepted);
    if (this.limitReached) {
      this.queue(
        "system",
        `log streaming stopped after ${this.options.maxStreamBytes} bytes; the full log is agent.log in the job's artifacts\n`,
      );
    }
  }

  /** The runner's own messages: in the log file and on the `system` stream, never cut by the budget. */
  system(message: string): void {
    if (this.closed) return;
    const line = message.endsWith("\n") ? message : `${message}\n`;
    writeSync(this.fd, `[agentlab] ${line}`);
    this.queue("system", line);
  }

  private queue(stream: LogStream, data: string): void {
    const last = this.pending.at(-1);
    if (last && last.stream === stream && byteLength(last.data) + byteLength(data) <= MAX_ENTRY_BYTES) {
      last.data += data;
    } else {
      this.pending.push({ stream, data, atMs: this.options.now() });
    }
  }

  /** Sends what is pending: one attempt; what fails stays for the next flush. */
  flush(): Promise<void> {
    this.sending = this.sending.then(() => this.sendAll(false));
    return this.sending;
  }

  private async sendAll(retry: boolean): Promise<void> {
    for (const chunk of this.pending) {
      this.unacked.push(logEntry(this.nextSeq, chunk.stream, chunk.data, chunk.atMs));
      this.nextSeq += 1n;
    }
    this.pending = [];
    while (this.unacked.length > 0) {
      const batch: LogEntry[] = [];
      let bytes = 0;
      for (const entry of this.unacked) {
        const size = byteLength(entry.data);
        if (batch.length > 0 && bytes + size > MAX_BATCH_BYTES) break;
        batch.push(entry);
        bytes += size;
      }
      try {
        if (retry) {
          await withRetry(
            this.retryPolicy,
            {
              sleep: this.options.sleep,
              onRetry: (err, attempt) => this.options.log(`AppendLogs attempt ${attempt} failed: ${errorMessage(err)}`),
            },
            () => this.options.send(batch),
          );
        } else {
          await this.options.send(batch);
        }
      } catch (err) {
        this.options.log(`AppendLogs failed (${errorMessage(err)}); ${this.unacked.length} entries kept for later`);
        return;
      }
      this.unacked.splice(0, batch.length);
    }
  }

  private retryPolicy: RetryPolicy = { attempts: 1, initialDelayMs: 0, maxDelayMs: 0 };

  /** Stops the timer, sends everything left with retries, closes the file. */
  async close(policy: RetryPolicy): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    this.retryPolicy = policy;
    this.sending = this.sending.then(() => this.sendAll(true));
    await this.sending;
    closeSync(this.fd);
  }

  /** The next sequence number that would be given (for tests and the runner's log). */
  get seq(): bigint {
    return this.nextSeq;
  }
}
