import type { SqliteDatabase } from "../db/open-database.js";
import type { EventBus } from "./event-bus.js";
import { listEvents, MAX_EVENT_LIMIT, type StoredEvent } from "./event-store.js";

export interface WatchEventsOptions {
  /** Resume after this id (exclusive); 0 or absent = from the first event. */
  readonly after?: number;
  readonly sandboxVmid?: number;
  readonly jobId?: string;
  readonly kinds?: readonly string[];
  /** Stops the iterator (client went away). */
  readonly signal?: AbortSignal;
}

function matches(event: StoredEvent, options: WatchEventsOptions): boolean {
  if (options.sandboxVmid !== undefined && event.sandboxVmid !== options.sandboxVmid) return false;
  if (options.jobId !== undefined && event.jobId !== options.jobId) return false;
  if (options.kinds !== undefined && options.kinds.length > 0 && !options.kinds.includes(event.kind)) return false;
  return true;
}

/**
 * Every matching event after `after`, then live ones, in id order with no loss and no duplicates.
 * Subscribe first (so nothing committed from now on goes unnoticed), then read the backlog from the
 * database, and on every later announcement read again after the last id delivered. The bus is used
 * only as a wake-up and the database as the source of truth: a slow consumer costs no memory, and an
 * event announced late or out of order (committed by one transaction, published after another) is
 * still delivered exactly once, in id order.
 */
export async function* watchEvents(
  db: SqliteDatabase,
  bus: EventBus,
  options: WatchEventsOptions = {},
): AsyncGenerator<StoredEvent, void, undefined> {
  let stale = true; // the backlog has not been read yet
  let wake: (() => void) | undefined;
  const notify = (): void => {
    const resolve = wake;
    wake = undefined;
    resolve?.();
  };
  const unsubscribe = bus.subscribe((event) => {
    if (!matches(event, options)) return;
    stale = true;
    notify();
  });
  const onAbort = (): void => notify();
  options.signal?.addEventListener("abort", onAbort);
  let lastId = options.after ?? 0;
  try {
    while (!options.signal?.aborted) {
      if (stale) {
        stale = false;
        for (;;) {
          const page = listEvents(db, { ...options, after: lastId, limit: MAX_EVENT_LIMIT });
          for (const event of page) {
            lastId = event.id;
            yield event;
            if (options.signal?.aborted) return;
          }
          if (page.length < MAX_EVENT_LIMIT) break;
        }
        continue;
      }
      await new Promise<void>((resolve) => {
        wake = resolve;
        if (stale || options.signal?.aborted) notify();
      });
    }
  } finally {
    unsubscribe();
    options.signal?.removeEventListener("abort", onAbort);
  }
}
