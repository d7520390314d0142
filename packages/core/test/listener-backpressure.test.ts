import * as http from "node:http";
import * as net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Listener, listen } from "../src/index.js";

const MiB = 1024 * 1024;

/**
 * HTTP/1.1 connections reach the http server through the first-bytes dispatcher. A request body
 * must still be read only as fast as its handler drains it: a handler that is busy (authorizing an
 * upload, waiting for the disk) may not find the whole body buffered in memory when it gets back.
 */
describe("HTTP/1.1 through the first-bytes dispatcher", () => {
  let listener: Listener;
  const buffered: number[] = [];

  beforeAll(async () => {
    listener = await listen({
      endpoint: { tcp: { host: "127.0.0.1", port: 0 } },
      connectRoutes: () => {},
      httpRoutes: (req, res) => {
        if (req.url === "/slow-reader") {
          void (async () => {
            await new Promise((resolve) => setTimeout(resolve, 150));
            buffered.push(req.readableLength);
            let received = 0;
            for await (const chunk of req) received += (chunk as Buffer).length;
            res.end(String(received));
          })();
          return true;
        }
        if (req.url === "/echo") {
          let text = "";
          req.on("data", (c: Buffer) => {
            text += c.toString();
          });
          req.on("end", () => res.end(`${req.method} ${text}`));
          return true;
        }
        return false;
      },
    });
  });
  afterAll(async () => {
    await listener.close();
  });

  it("keeps a request body on the wire while the handler is busy", async () => {
    const size = 32 * MiB;
    const block = Buffer.alloc(64 * 1024, 7);
    const reply = await new Promise<string>((resolve, reject) => {
      const req = http.request(
        {
          host: "127.0.0.1",
          port: listener.port,
          method: "POST",
          path: "/slow-reader",
          headers: { "content-length": size },
          agent: false,
        },
        (res) => {
          let text = "";
          res.on("data", (c: Buffer) => {
            text += c.toString();
          });
          res.on("end", () => resolve(text));
        },
      );
      req.on("error", reject);
      void (async () => {
        for (let sent = 0; sent < size; sent += block.length) {
          if (!req.write(block)) await new Promise((resolve) => req.once("drain", resolve));
        }
        req.end();
      })();
    });
    expect(reply).toBe(String(size));
    // Unbounded, this was the whole body (tens of MiB); bounded, it is a high-water mark's worth.
    expect(buffered[0]).toBeLessThan(MiB);
  });

  it("serves a request whose first bytes arrive one at a time, then another on the same connection", async () => {
    const socket = net.connect(listener.port ?? 0, "127.0.0.1");
    await new Promise<void>((resolve) => socket.once("connect", resolve));
    let answer = "";
    socket.on("data", (c: Buffer) => {
      answer += c.toString();
    });
    const request = (body: string) => `POST /echo HTTP/1.1\r\nhost: x\r\ncontent-length: ${body.length}\r\n\r\n${body}`;
    // "P" is also how the HTTP/2 preface starts: the dispatcher must wait for the next byte.
    for (const piece of ["P", "O", request("one").slice(2)]) {
      socket.write(piece);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    socket.write(request("two"));
    await expect.poll(() => answer.match(/POST (one|two)/g) ?? [], { timeout: 2000 }).toEqual(["POST one", "POST two"]);
    socket.destroy();
  });
});
