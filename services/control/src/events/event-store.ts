import type { SqliteDatabase } from "../db/open-database.js";
import { type Clock, nowTimestamp } from "../db/timestamps.js";

/**
 * One row of `events`. The payload lives in the original's `json` column (see migration 12): one
 * column, so events migrated from the original keep theirs.
 */
export interface StoredEvent {
  readonly id: number;
  /** Fixed-width UTC timestamp (`YYYY-MM-DDTHH:MM:SS.sssZ`). */
  readonly ts: string;
  readonly kind: string;
  readonly sandboxVmid: number | null;
  readonly jobId: string | null;
  readonly msg: string;
  /** Parsed JSON payload; the raw text when a migrated row holds invalid JSON; undefined when none. */
  readonly payload: unknown;
}

export interface NewEvent {
  readonly kind: string;
  readonly sandboxVmid?: number;
  readonly jobId?: string;
  readonly msg: string;
  readonly payload?: unknown;
}

export const DEFAULT_EVENT_LIMIT = 200;
export const MAX_EVENT_LIMIT = 1000;

export interface ListEventsOptions {
  /** Events with id greater than this, oldest first (resume). Exclusive with `tail`. */
  readonly after?: number;
  /** The newest N matching events, still returned oldest first. Exclusive with `after`. */
  readonly tail?: number;
  /** Page size for `after` / from the beginning: default 200, at most 1000. */
  readonly limit?: number;
  readonly sandboxVmid?: number;
  readonly jobId?: string;
  readonly kinds?: readonly string[];
}

interface EventRow {
  id: number;
  ts: string;
  kind: string;
  sandbox_vmid: number | null;
  job_id: string | null;
  msg: string | null;
  json: string | null;
}

function toEvent(row: EventRow): StoredEvent {
  let payload: unknown;
  if (row.json !== null && row.json !== "") {
    try {
      payload = JSON.parse(row.json);
    } catch {
      payload = row.json;
    }
  }
  return {
    id: row.id,
    ts: row.ts,
    kind: row.kind,
    sandboxVmid: row.sandbox_vmid,
    jobId: row.job_id,
    msg: row.msg ?? "",
    payload,
  };
}

/**
 * Inserts an event and returns it with its id. It does not notify watchers: call
 * `EventBus.publish` once the surrounding transaction (if any) has committed, so a rolled-back
 * event is never announced (`recordEvent` does both when there is no transaction).
 */
export function appendEvent(db: SqliteDatabase, event: NewEvent, clock: Clock): StoredEvent {
  if (event.kind.trim() === "") {
    throw new RangeError(`appendEvent: empty kind (msg ${JSON.stringify(event.msg)}); pass e.g. "sandbox.state"`);
  }
  const ts = nowTimestamp(clock);
  const json = event.payload === undefined ? null : JSON.stringify(event.payload);
  const info = db
    .prepare(`INSERT INTO events (ts, kind, sandbox_vmid, job_id, msg, json) VALUES (?, ?, ?, ?, ?, ?)`)
    .run(ts, event.kind, event.sandboxVmid ?? null, event.jobId ?? null, event.msg, json);
  return toEvent({
    id: Number(info.lastInsertRowid),
    ts,
    kind: event.kind,
    sandbox_vmid: event.sandboxVmid ?? null,
    job_id: event.jobId ?? null,
    msg: event.msg,
    json,
  });
}

function checkCount(name: string, value: number | undefined): void {
  if (value !== undefined && (!Number.isInteger(value) || value < 1 || value > MAX_EVENT_LIMIT)) {
    throw new RangeError(`listEvents: ${name} ${value} is out of range; use an integer from 1 to ${MAX_EVENT_LIMIT}`);
  }
}

/** Events in id order, filtered; see ListEventsOptions for paging. */
export function listEvents(db: SqliteDatabase, options: ListEventsOptions = {}): StoredEvent[] {
  if (options.after !== undefined && options.tail !== undefined) {
    throw new RangeError(
      `listEvents: after (${options.after}) and tail (${options.tail}) are exclusive; resume with after, or show the latest with tail`,
    );
  }
  if (options.after !== undefined && (!Number.isInteger(options.after) || options.after < 0)) {
    throw new RangeError(`listEvents: after ${options.after} must be a non-negative event id`);
  }
  checkCount("limit", options.limit);
  checkCount("tail", options.tail);

  const where: string[] = [];
  const params: (string | number)[] = [];
  if (options.after !== undefined) {
    where.push("id > ?");
    params.push(options.after);
  }
  if (options.sandboxVmid !== undefined) {
    where.push("sandbox_vmid = ?");
    params.push(options.sandboxVmid);
  }
  if (options.jobId !== undefined) {
    where.push("job_id = ?");
    params.push(options.jobId);
  }
  if (options.kinds !== undefined && options.kinds.length > 0) {
    where.push(`kind IN (${options.kinds.map(() => "?").join(", ")})`);
    params.push(...options.kinds);
  }
  const filter = where.length > 0 ? `WHERE ${where.join(" AND ")}` : "";
  const columns = "id, ts, kind, sandbox_vmid, job_id, msg, json";
  if (options.tail !== undefined) {
    const rows = db
      .prepare(`SELECT ${columns} FROM events ${filter} ORDER BY id DESC LIMIT ?`)
      .all(...params, options.tail) as EventRow[];
    return rows.reverse().map(toEvent);
  }
  const rows = db
    .prepare(`SELECT ${columns} FROM events ${filter} ORDER BY id LIMIT ?`)
    .all(...params, options.limit ?? DEFAULT_EVENT_LIMIT) as EventRow[];
  return rows.map(toEvent);
}
