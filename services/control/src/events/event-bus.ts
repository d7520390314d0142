import type { StoredEvent } from "./event-store.js";

export type EventListener = (event: StoredEvent) => void;

/**
 * In-process fan-out of committed events to watchers (WatchEvents, WatchJob). It carries no history:
 * a watcher subscribes first, then reads the backlog from the database, and takes each announcement
 * as a cue to read again after the last id it delivered (see watchEvents), so ids dedupe.
 */
export class EventBus {
  readonly #listeners = new Set<EventListener>();

  /** Returns the unsubscribe function. */
  subscribe(listener: EventListener): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  /** Announce committed events, in id order. A throwing listener does not stop the others. */
  publish(...events: StoredEvent[]): void {
    for (const event of events) {
      for (const listener of [...this.#listeners]) {
        try {
          listener(event);
        } catch {
          // A watcher's bug must not break the writer that published; the watcher resyncs from the db.
        }
      }
    }
  }

  get subscriberCount(): number {
    return this.#listeners.size;
  }
}
