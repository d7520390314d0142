/** Stored events as contract messages. */

import { type Event, EventSchema } from "@agentlab/api";
import { create, type JsonObject } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { parseTimestamp } from "../db/timestamps.js";
import type { StoredEvent } from "./event-store.js";

/** Payloads are JSON objects; a migrated row holding anything else is wrapped so it still shows. */
function payloadObject(payload: unknown): JsonObject | undefined {
  if (payload === undefined || payload === null) return undefined;
  if (typeof payload === "object" && !Array.isArray(payload)) return payload as JsonObject;
  return { value: payload as JsonObject };
}

export function eventToProto(e: StoredEvent): Event {
  return create(EventSchema, {
    id: BigInt(e.id),
    ts: timestampFromDate(parseTimestamp(e.ts)),
    kind: e.kind,
    sandboxVmid: e.sandboxVmid ?? 0,
    jobId: e.jobId ?? "",
    msg: e.msg,
    payload: payloadObject(e.payload),
  });
}
