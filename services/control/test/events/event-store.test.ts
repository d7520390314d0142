import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { migrate } from "../../src/db/migration-runner.js";
import { closeDatabase, openDatabase, type SqliteDatabase } from "../../src/db/open-database.js";
import { EventBus } from "../../src/events/event-bus.js";
import { appendEvent, listEvents, type StoredEvent } from "../../src/events/event-store.js";
import { recordEvent } from "../../src/events/record-event.js";
import { watchEvents } from "../../src/events/watch-events.js";
import { ampleDisk, makeFakeClock, makeTempDir } from "../db/temp-database-dir.js";

describe("event store", () => {
  let tmp: ReturnType<typeof makeTempDir>;
  let db: SqliteDatabase;
  const fake = makeFakeClock("2025-03-01T12:00:00.000Z");
  beforeEach(async () => {
    tmp = makeTempDir("agentlab-events-");
    db = openDatabase(tmp.dbPath);
    await migrate(db, { dbPath: tmp.dbPath, clock: fake.clock, freeBytes: ampleDisk });
  });
  afterEach(() => {
    closeDatabase(db);
    tmp.remove();
  });

  function seed(n: number): StoredEvent[] {
    return Array.from({ length: n }, (_, i) =>
      appendEvent(
        db,
        {
          kind: i % 3 === 0 ? "job.report" : "sandbox.state",
          sandboxVmid: 1000 + (i % 2),
          jobId: i % 2 ? undefined : "job_1",
          msg: `event ${i}`,
          payload: i === 0 ? { from: "READY", to: "RUNNING" } : undefined,
        },
        fake.clock,
      ),
    );
  }

  it("appends with an id and a fixed-width timestamp, and reads the payload back", () => {
    const [first] = seed(1);
    expect(first).toMatchObject({ id: 1, ts: "2025-03-01T12:00:00.000Z", kind: "job.report", sandboxVmid: 1000 });
    expect(listEvents(db)).toEqual([first]);
    expect(listEvents(db)[0]!.payload).toEqual({ from: "READY", to: "RUNNING" });
    expect(() => appendEvent(db, { kind: " ", msg: "x" }, fake.clock)).toThrow(/empty kind/);
  });

  it("pages with after, shows the latest with tail, filters, and validates limits", () => {
    const all = seed(10);
    expect(listEvents(db, { limit: 3 }).map((e) => e.id)).toEqual([1, 2, 3]);
    expect(listEvents(db, { after: 3, limit: 3 }).map((e) => e.id)).toEqual([4, 5, 6]);
    expect(listEvents(db, { tail: 3 }).map((e) => e.id)).toEqual([8, 9, 10]);
    expect(listEvents(db, { sandboxVmid: 1001 }).map((e) => e.id)).toEqual([2, 4, 6, 8, 10]);
    expect(listEvents(db, { jobId: "job_1", kinds: ["job.report"] }).map((e) => e.id)).toEqual([1, 7]);
    expect(listEvents(db).length).toBe(all.length);
    expect(() => listEvents(db, { after: 1, tail: 1 })).toThrow(/after \(1\) and tail \(1\) are exclusive/);
    expect(() => listEvents(db, { limit: 1001 })).toThrow(/limit 1001 is out of range/);
    expect(() => listEvents(db, { tail: 0 })).toThrow(/tail 0/);
  });

  it("recordEvent refuses inside a transaction so a rollback never announces an event", () => {
    const bus = new EventBus();
    const seen: number[] = [];
    bus.subscribe((e) => seen.push(e.id));
    expect(() => db.transaction(() => recordEvent(db, bus, { kind: "k", msg: "m" }, fake.clock))()).toThrow(
      /inside a transaction/,
    );
    recordEvent(db, bus, { kind: "k", msg: "m" }, fake.clock);
    expect(seen).toEqual([1]);
  });
});

describe("watchEvents", () => {
  let tmp: ReturnType<typeof makeTempDir>;
  let db: SqliteDatabase;
  const fake = makeFakeClock("2025-03-01T12:00:00.000Z");
  beforeEach(async () => {
    tmp = makeTempDir("agentlab-watch-");
    db = openDatabase(tmp.dbPath);
    await migrate(db, { dbPath: tmp.dbPath, clock: fake.clock, freeBytes: ampleDisk });
  });
  afterEach(() => {
    closeDatabase(db);
    tmp.remove();
  });

  async function collect(iterator: AsyncGenerator<StoredEvent>, count: number): Promise<number[]> {
    const ids: number[] = [];
    for await (const event of iterator) {
      ids.push(event.id);
      if (ids.length === count) break;
    }
    return ids;
  }

  it("resumes from an id: backlog then live, no loss, no duplicates", async () => {
    const bus = new EventBus();
    for (let i = 0; i < 5; i++) recordEvent(db, bus, { kind: "k", msg: `old ${i}` }, fake.clock);
    const iterator = watchEvents(db, bus, { after: 2 });
    const collecting = collect(iterator, 6);
    // Live events while the watcher reads its backlog, including ones committed before their publish.
    await Promise.resolve();
    const late = appendEvent(db, { kind: "k", msg: "committed, not yet published" }, fake.clock);
    recordEvent(db, bus, { kind: "k", msg: "live 1" }, fake.clock);
    bus.publish(late); // published late and out of order: must not be delivered twice
    recordEvent(db, bus, { kind: "k", msg: "live 2" }, fake.clock);
    expect(await collecting).toEqual([3, 4, 5, 6, 7, 8]);
    expect(bus.subscriberCount).toBe(0);
  });

  it("delivers events published between subscribe and backlog read exactly once", async () => {
    const bus = new EventBus();
    recordEvent(db, bus, { kind: "k", msg: "before" }, fake.clock);
    const iterator = watchEvents(db, bus);
    // The first next() subscribes, then reads the backlog synchronously: publish around it.
    const first = iterator.next();
    recordEvent(db, bus, { kind: "k", msg: "right after subscribe" }, fake.clock);
    expect((await first).value?.id).toBe(1);
    const ids = [1];
    for (let i = 0; i < 3; i++) {
      if (i === 1) recordEvent(db, bus, { kind: "k", msg: "later" }, fake.clock);
      if (i === 2) recordEvent(db, bus, { kind: "k", msg: "later still" }, fake.clock);
      ids.push((await iterator.next()).value!.id);
    }
    await iterator.return(undefined);
    expect(ids).toEqual([1, 2, 3, 4]);
  });

  it("filters live events and stops on abort", async () => {
    const bus = new EventBus();
    const controller = new AbortController();
    const seen: number[] = [];
    const done = (async () => {
      for await (const event of watchEvents(db, bus, { jobId: "job_a", signal: controller.signal })) {
        seen.push(event.id);
        if (seen.length === 2) controller.abort();
      }
    })();
    await new Promise((resolve) => setImmediate(resolve));
    recordEvent(db, bus, { kind: "k", jobId: "job_b", msg: "other" }, fake.clock);
    recordEvent(db, bus, { kind: "k", jobId: "job_a", msg: "mine" }, fake.clock);
    recordEvent(db, bus, { kind: "k", jobId: "job_a", msg: "mine too" }, fake.clock);
    await done;
    expect(seen).toEqual([2, 3]);
    expect(bus.subscriberCount).toBe(0);
  });

  it("a slow consumer that falls far behind still gets every event once, in order", async () => {
    const bus = new EventBus();
    const iterator = watchEvents(db, bus);
    const first = iterator.next();
    recordEvent(db, bus, { kind: "k", msg: "0" }, fake.clock);
    const ids = [(await first).value!.id];
    for (let i = 1; i < 2500; i++) recordEvent(db, bus, { kind: "k", msg: String(i) }, fake.clock);
    while (ids.length < 2500) ids.push((await iterator.next()).value!.id);
    await iterator.return(undefined);
    expect(ids).toEqual(Array.from({ length: 2500 }, (_, i) => i + 1));
  });
});
