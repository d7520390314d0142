/** What agentlabd's main thread and its runner thread send each other (structured-clone values only). */

/** `workerData` of the runner thread. */
export interface RunnerThreadData {
  /** Marks the thread, so the shared entry point (main.ts) knows to serve the runner. */
  agentlabdRunnerThread: true;
  /** The loaded AgentLabConfig: plain data, cloned into the thread. */
  config: unknown;
  /** The config file read, hidden from local sandboxes. */
  configPath: string | undefined;
  /** Whether the runner records metrics (agentlabd serves them with its own). */
  metrics: boolean;
}

export type RunnerThreadRequest = { type: "metrics"; id: number } | { type: "close" };

export type RunnerThreadReply =
  /** The runner listens on its socket. */
  | { type: "ready" }
  /** The runner could not start; the thread ends. */
  | { type: "failed"; name: string; message: string }
  /** The answer to `metrics` #id: the runner's families, or why they could not be collected. */
  | { type: "metrics"; id: number; text?: string; error?: string }
  /** The runner stopped listening and closed its backend; the thread ends. */
  | { type: "closed"; error?: string }
  /** One JSON log line, secrets already redacted: the main thread writes it, so lines never interleave. */
  | { type: "log"; line: string };
