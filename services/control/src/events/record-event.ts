import type { SqliteDatabase } from "../db/open-database.js";
import type { Clock } from "../db/timestamps.js";
import type { EventBus } from "./event-bus.js";
import { appendEvent, type NewEvent, type StoredEvent } from "./event-store.js";

/**
 * Append and announce in one call, for writes outside a transaction. Inside one, use appendEvent
 * and publish after commit: announcing first would show watchers an event a rollback then erases.
 */
export function recordEvent(db: SqliteDatabase, bus: EventBus, event: NewEvent, clock: Clock): StoredEvent {
  if (db.inTransaction) {
    throw new Error(
      `recordEvent(${event.kind}): called inside a transaction; use appendEvent and bus.publish after commit`,
    );
  }
  const stored = appendEvent(db, event, clock);
  bus.publish(stored);
  return stored;
}
