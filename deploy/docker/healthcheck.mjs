#!/usr/bin/env node
// Container health probe: `healthcheck.mjs SOCKET` asks a service's Unix socket for /healthz
// (served by every AgentLab listener over HTTP/1.1); `healthcheck.mjs --tcp HOST:PORT` only
// checks that something accepts connections (the simulator). Exit 0 healthy, 1 not.
// Stands in for `agentlab health --socket SOCKET` until that CLI command exists.
import { request } from "node:http";
import { connect } from "node:net";

const [first, second] = process.argv.slice(2);
const fail = () => process.exit(1);
setTimeout(fail, 4000).unref();

if (first === "--tcp" && second) {
  const cut = second.lastIndexOf(":");
  const socket = connect(Number(second.slice(cut + 1)), second.slice(0, cut));
  socket.on("connect", () => {
    socket.destroy();
    process.exit(0);
  });
  socket.on("error", fail);
} else if (first) {
  const req = request({ socketPath: first, path: "/healthz", method: "GET" }, (res) => {
    res.resume();
    process.exit(res.statusCode === 200 ? 0 : 1);
  });
  req.on("error", fail);
  req.end();
} else {
  process.stderr.write("usage: healthcheck.mjs SOCKET | --tcp HOST:PORT\n");
  process.exit(2);
}
