// runner_listen: a control on another node reaches the runner over TCP, and RunnerService is never
// reachable there without the internal token (DESIGN §2). Control's peer transport sends it.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RunnerService } from "@agentlab/api";
import { createPeerTransport, loadConfig } from "@agentlab/core";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { peerTransportFor } from "../../control/src/control-server.js";
import { createLocalBackend } from "../src/backends/local/local-backend.js";
import { type RunnerServer, startRunner } from "../src/runner-server.js";

const INTERNAL_TOKEN = "internal-token-for-this-test-0123456789";

describe("runner on TCP (runner_listen)", () => {
  let dir: string;
  let server: RunnerServer;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "al-runner-tcp-"));
    const { config } = loadConfig({
      overrides: {
        sandbox_backend: "local",
        deployment_id: "tcp",
        run_dir: dir,
        data_dir: dir,
        internal_token: INTERNAL_TOKEN,
      },
      env: {},
      fs: { readFile: () => "", statMode: () => undefined },
    });
    server = await startRunner({
      config,
      logger: pino({ level: "silent" }),
      socketPath: join(dir, "runner.sock"),
      backend: createLocalBackend({ sandboxDir: join(dir, "sandboxes"), ownerTag: "agentlab-tcp" }),
      tcp: { host: "127.0.0.1", port: 0, internalToken: INTERNAL_TOKEN },
    });
  });

  afterAll(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("refuses calls without the internal token, or with a wrong one", async () => {
    const anonymous = createClient(
      RunnerService,
      createPeerTransport(`http://${server.tcpAddress}`, { protocol: "grpc" }),
    );
    const err = await anonymous.getInfo({}).catch((e: unknown) => ConnectError.from(e));
    expect((err as ConnectError).code).toBe(Code.Unauthenticated);
    const wrong = createClient(
      RunnerService,
      createPeerTransport(`http://${server.tcpAddress}`, {
        protocol: "grpc",
        interceptors: [
          (next) => (req) => {
            req.header.set("authorization", "Bearer nope");
            return next(req);
          },
        ],
      }),
    );
    expect(((await wrong.getInfo({}).catch((e: unknown) => ConnectError.from(e))) as ConnectError).code).toBe(
      Code.Unauthenticated,
    );
  });

  it("answers control's peer transport, which carries internal_token on TCP", async () => {
    const transportFor = peerTransportFor({ internal_token: INTERNAL_TOKEN } as Parameters<typeof peerTransportFor>[0]);
    const client = createClient(RunnerService, transportFor(`http://${server.tcpAddress}`));
    const info = await client.getInfo({});
    expect(info.backendKind).toBe("local");
  });
});
