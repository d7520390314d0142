import type { Socket } from "node:net";

/** The client connection preface every HTTP/2 connection starts with (RFC 9113 §3.4). */
export const HTTP2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");

export type ConnectionProtocol = "http2" | "http1";

/**
 * Decides the protocol from the bytes seen so far: undefined while they are still a prefix of the
 * HTTP/2 preface, so a preface split across packets is still recognised.
 */
export function classifyFirstBytes(seen: Buffer): ConnectionProtocol | undefined {
  const length = Math.min(seen.length, HTTP2_PREFACE.length);
  if (!seen.subarray(0, length).equals(HTTP2_PREFACE.subarray(0, length))) return "http1";
  return length === HTTP2_PREFACE.length ? "http2" : undefined;
}

/**
 * Reads a connection's first bytes and hands the socket to the matching server. Node 20's plaintext
 * http2 server cannot fall back to HTTP/1.1 by itself, so one listening socket feeds two unbound
 * servers. The bytes read here go back differently:
 *
 * - HTTP/2: they are put back on the socket, which stays paused; the session drains what is
 *   buffered on the socket when it starts.
 * - HTTP/1.1: they are passed to `handoff`, which replays them once the server is attached. The
 *   socket keeps flowing, so no deferred `resume()` is left behind to restart reading after the
 *   server paused for a request body it has not drained yet.
 */
export function dispatchByFirstBytes(
  socket: Socket,
  handoff: (protocol: ConnectionProtocol, firstBytes?: Buffer) => void,
): void {
  const chunks: Buffer[] = [];
  const onData = (chunk: Buffer) => {
    chunks.push(chunk);
    const seen = Buffer.concat(chunks);
    const protocol = classifyFirstBytes(seen);
    if (!protocol) return;
    socket.removeListener("data", onData);
    socket.removeListener("end", onEnd);
    if (protocol === "http1") {
      // The socket keeps flowing: nothing is paused, so nothing has to be resumed later.
      handoff("http1", seen);
      return;
    }
    socket.pause();
    socket.unshift(seen);
    handoff("http2");
  };
  // A client that connects and hangs up without a byte (a liveness probe) needs no server.
  const onEnd = () => socket.destroy();
  socket.on("data", onData);
  socket.once("end", onEnd);
}
