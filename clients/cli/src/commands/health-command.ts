/**
 * `agentlab health`: asks a service's standard gRPC health check over its socket. Exit 0 when it is
 * SERVING: this is the probe container health checks and scripts use.
 */
import { Health, HealthCheckResponse_ServingStatus } from "@agentlab/api";
import { createClient } from "@connectrpc/connect";
import type { Command } from "commander";
import { OutcomeFailure } from "../cli-errors.js";
import { action } from "../command-action.js";
import { createControlTransport } from "../control-clients.js";

export function registerHealthCommand(program: Command): void {
  program
    .command("health")
    .description("check that a service answers its health check (default: control's socket)")
    .option("--service <name>", "fully qualified service name to check; empty checks the server")
    .action(
      action(async (ctx, opts: { service?: string }) => {
        const health = createClient(Health, createControlTransport(ctx.endpoint));
        const res = await health.check({ service: opts.service ?? "" }, { timeoutMs: Math.min(ctx.timeoutMs, 10_000) });
        const status = HealthCheckResponse_ServingStatus[res.status] ?? String(res.status);
        if (res.status !== HealthCheckResponse_ServingStatus.SERVING) {
          process.stderr.write(`agentlab: ${ctx.endpoint} is ${status}\n`);
          throw new OutcomeFailure();
        }
        return { data: { endpoint: ctx.endpoint, status }, text: `${ctx.endpoint}: ${status}` };
      }),
    );
}
