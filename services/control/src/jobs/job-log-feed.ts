/**
 * Wake-ups for WatchJob when log chunks are stored. Like EventBus it carries no data: a watcher
 * takes an announcement as a cue to read job_logs again after the last seq it delivered, so the
 * database stays the one source of truth. Log chunks are not events (a busy agent writes thousands),
 * hence a feed of their own; GuestService and JobService must share one instance.
 */
export type JobLogListener = (jobId: string) => void;

export class JobLogFeed {
  readonly #listeners = new Set<JobLogListener>();

  subscribe(listener: JobLogListener): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  /** Announce committed chunks of a job. */
  publish(jobId: string): void {
    for (const listener of [...this.#listeners]) {
      try {
        listener(jobId);
      } catch {
        // A watcher's bug must not fail the guest's AppendLogs; the watcher resyncs from the db.
      }
    }
  }
}
