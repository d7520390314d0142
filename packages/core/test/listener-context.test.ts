// What handlers behind listen() can rely on: the caller's address in the context, domain errors
// mapped even when a stream fails half-way, and the build version on every response.

import { EventSchema, EventService } from "@agentlab/api";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createPeerTransport,
  type Listener,
  listen,
  NotFoundError,
  remoteAddressKey,
  VERSION_HEADER,
  versionLine,
} from "../src/index.js";

describe("listen() context for handlers", () => {
  let listener: Listener;
  beforeAll(async () => {
    listener = await listen({
      endpoint: { tcp: { host: "127.0.0.1", port: 0 } },
      connectRoutes(router) {
        router.service(EventService, {
          listEvents(_req, context) {
            return { events: [create(EventSchema, { msg: context.values.get(remoteAddressKey) ?? "none" })] };
          },
          async *watchEvents() {
            yield { event: create(EventSchema, { msg: "first" }) };
            throw new NotFoundError({ message: "job_x not found", hint: "list jobs" });
          },
        });
      },
    });
  });
  afterAll(async () => {
    await listener.close();
  });

  const client = () =>
    createClient(EventService, createPeerTransport(`http://${listener.address}`, { protocol: "grpc" }));

  it("gives handlers the caller's address and names the build in a response header", async () => {
    let version: string | null = null;
    const res = await client().listEvents({}, { onHeader: (h) => (version = h.get(VERSION_HEADER)) });
    expect(res.events[0]?.msg).toBe("127.0.0.1");
    expect(version).toBe(versionLine());
  });

  it("maps a domain error thrown in the middle of a server stream to its code", async () => {
    const seen: string[] = [];
    let error: unknown;
    try {
      for await (const msg of client().watchEvents({})) seen.push(msg.event?.msg ?? "");
    } catch (err) {
      error = err;
    }
    expect(seen).toEqual(["first"]);
    expect(error).toBeInstanceOf(ConnectError);
    expect((error as ConnectError).code).toBe(Code.NotFound);
    expect((error as ConnectError).rawMessage).toContain("job_x not found");
  });
});
