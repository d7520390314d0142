/** EventService: the event log, listed and watched (resumable, no loss, no duplicates). */
import { type EventFilter, EventService } from "@agentlab/api";
import { InvalidArgumentError } from "@agentlab/core";
import type { ConnectRouter, HandlerContext } from "@connectrpc/connect";
import type { SqliteDatabase } from "../db/open-database.js";
import type { EventBus } from "./event-bus.js";
import { eventToProto } from "./event-proto.js";
import { listEvents, MAX_EVENT_LIMIT } from "./event-store.js";
import { watchEvents } from "./watch-events.js";

export interface EventRoutesDeps {
  db: SqliteDatabase;
  bus: EventBus;
}

function filterOptions(filter: EventFilter | undefined) {
  return {
    ...(filter?.sandboxVmid ? { sandboxVmid: filter.sandboxVmid } : {}),
    ...(filter?.jobId ? { jobId: filter.jobId } : {}),
    ...(filter?.kinds.length ? { kinds: filter.kinds } : {}),
  };
}

function checkLimit(name: string, value: number): void {
  if (value < 0 || value > MAX_EVENT_LIMIT) {
    throw new InvalidArgumentError({
      message: `${name} ${value} is out of range`,
      value,
      hint: `use 1..${MAX_EVENT_LIMIT}`,
    });
  }
}

export function registerEventRoutes(router: ConnectRouter, deps: EventRoutesDeps): void {
  router.service(EventService, {
    listEvents(req) {
      checkLimit("tail", req.tail);
      checkLimit("limit", req.limit);
      if (req.tail > 0 && req.afterId > 0n) {
        throw new InvalidArgumentError({
          message: "after_id and tail are mutually exclusive",
          hint: "give one of them",
        });
      }
      const events = listEvents(deps.db, {
        ...(req.afterId > 0n ? { after: Number(req.afterId) } : {}),
        ...(req.tail > 0 ? { tail: req.tail } : {}),
        ...(req.limit > 0 ? { limit: req.limit } : {}),
        ...filterOptions(req.filter),
      });
      const last = events.at(-1);
      return { events: events.map(eventToProto), lastId: last ? BigInt(last.id) : req.afterId };
    },
    async *watchEvents(req, context: HandlerContext) {
      for await (const event of watchEvents(deps.db, deps.bus, {
        after: Number(req.afterId),
        ...filterOptions(req.filter),
        signal: context.signal,
      })) {
        yield { event: eventToProto(event) };
      }
    },
  });
}
