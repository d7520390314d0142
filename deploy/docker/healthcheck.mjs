#!/usr/bin/env node
// Container health probe for what has no gRPC health service: `healthcheck.mjs --tcp HOST:PORT`
// checks that something accepts connections (the simulator). `healthcheck.mjs SOCKET` asks a Unix
// socket for /healthz; AgentLab's own services are probed with `agentlab --socket S health`.
// Exit 0 healthy, 1 not.
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
