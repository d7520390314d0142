import { Health, HealthCheckResponse_ServingStatus } from "@agentlab/api/gen/grpc/health/v1/health_pb";
import type { ConnectRouter, HandlerContext } from "@connectrpc/connect";
import { Code, ConnectError } from "@connectrpc/connect";

/**
 * grpc.health.v1.Health for one server: SERVING for the server itself ("") and for every service
 * registered on it; NOT_FOUND (Check) or SERVICE_UNKNOWN (Watch) for anything else.
 */
export function registerHealthService(
  router: ConnectRouter,
  servingServices: () => ReadonlySet<string>,
  /** Aborted when the server shuts down: open Watch streams end instead of holding shutdown up. */
  shutdown?: AbortSignal,
): void {
  const statusOf = (service: string) =>
    service === "" || servingServices().has(service)
      ? HealthCheckResponse_ServingStatus.SERVING
      : HealthCheckResponse_ServingStatus.SERVICE_UNKNOWN;
  router.service(Health, {
    check(req) {
      const status = statusOf(req.service);
      if (status === HealthCheckResponse_ServingStatus.SERVICE_UNKNOWN) {
        throw new ConnectError(`unknown service ${JSON.stringify(req.service)}`, Code.NotFound);
      }
      return { status };
    },
    async *watch(req, context: HandlerContext) {
      yield { status: statusOf(req.service) };
      // Statuses never change while the server runs; hold the stream until the client or shutdown ends it.
      await new Promise<void>((resolve) => {
        for (const signal of [context.signal, shutdown]) {
          if (!signal) continue;
          if (signal.aborted) resolve();
          signal.addEventListener("abort", () => resolve(), { once: true });
        }
      });
    },
  });
}

/** Service names registered on a router (for health). */
export function registeredServiceNames(router: ConnectRouter): Set<string> {
  return new Set(router.handlers.map((handler) => handler.service.typeName));
}
