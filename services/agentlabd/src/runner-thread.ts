/**
 * agentlabd's runner in a worker thread of the same process. The runner's work — HTTPS to Proxmox,
 * `qm` output, namespace setup — then runs beside control's instead of taking turns with it on one
 * event loop: on a busy host control answers the CLI while the runner waits on Proxmox, and the two
 * use two cores (bench:lifecycle; docs/benchmarks.md). Control still reaches the runner through its
 * socket and contract, as it does a runner on another node.
 */
import { Worker } from "node:worker_threads";
import type { AgentLabConfig, Logger } from "@agentlab/core";
import type { RunnerThreadData, RunnerThreadReply, RunnerThreadRequest } from "./runner-thread-messages.js";

export interface RunnerThread {
  /** The runner's metric families in the Prometheus text format ("" without metrics). */
  metrics(): Promise<string>;
  /** Stops the runner (its socket, then its backend) and ends the thread. */
  close(): Promise<void>;
  /** Settles if the thread ends while nobody asked it to: agentlabd cannot serve without a runner. */
  died: Promise<Error>;
}

export interface StartRunnerThreadOptions {
  config: AgentLabConfig;
  configPath?: string | undefined;
  /** The module the thread runs: agentlabd's entry point, which serves the runner when it finds itself in the thread. */
  entry: URL;
  metrics: boolean;
  logger: Logger;
  /** Writes one of the thread's log lines (JSON, newline-terminated) to the daemon's log. */
  writeLog: (line: string) => void;
}

/** Resolves once the runner listens on its socket; rejects with the runner's own start-up error. */
export function startRunnerThread(options: StartRunnerThreadOptions): Promise<RunnerThread> {
  const workerData: RunnerThreadData = {
    agentlabdRunnerThread: true,
    config: options.config,
    configPath: options.configPath,
    metrics: options.metrics,
  };
  const worker = new Worker(options.entry, { workerData, stdout: false, stderr: false });
  const send = (request: RunnerThreadRequest) => worker.postMessage(request);
  const scrapes = new Map<number, { resolve(text: string): void; reject(err: Error): void }>();
  let nextScrape = 0;
  let closing: Promise<void> | undefined;
  let closeError: string | undefined;
  let reportDeath: (err: Error) => void = () => {};
  const died = new Promise<Error>((resolve) => {
    reportDeath = resolve;
  });

  return new Promise<RunnerThread>((resolveStart, rejectStart) => {
    let started = false;
    const handle: RunnerThread = {
      metrics() {
        if (closing) return Promise.resolve("");
        const id = nextScrape++;
        return new Promise<string>((resolve, reject) => {
          scrapes.set(id, { resolve, reject });
          send({ type: "metrics", id });
        });
      },
      close() {
        closing ??= new Promise<void>((resolve, reject) => {
          worker.once("exit", () => (closeError ? reject(new Error(`runner shutdown: ${closeError}`)) : resolve()));
          send({ type: "close" });
        });
        return closing;
      },
      died,
    };

    worker.on("message", (reply: RunnerThreadReply) => {
      switch (reply.type) {
        case "ready":
          started = true;
          resolveStart(handle);
          break;
        case "failed": {
          const err = new Error(reply.message);
          err.name = reply.name;
          rejectStart(err);
          break;
        }
        case "metrics": {
          const scrape = scrapes.get(reply.id);
          scrapes.delete(reply.id);
          if (reply.error !== undefined) scrape?.reject(new Error(`runner metrics: ${reply.error}`));
          else scrape?.resolve(reply.text ?? "");
          break;
        }
        case "closed":
          closeError = reply.error;
          break;
        case "log":
          options.writeLog(reply.line);
          break;
      }
    });
    // An exception nothing caught inside the thread ends it; 'exit' follows.
    worker.on("error", (err) => options.logger.error({ err }, "the runner thread failed"));
    worker.on("exit", (code) => {
      const err = new Error(`the runner thread ended (exit code ${code})`);
      for (const scrape of scrapes.values()) scrape.reject(err);
      scrapes.clear();
      if (!started) rejectStart(err);
      else if (!closing) reportDeath(err);
    });
  });
}
