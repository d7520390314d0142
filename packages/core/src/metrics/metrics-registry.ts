import { collectDefaultMetrics, Registry } from "prom-client";

export interface MetricsRegistryOptions {
  /**
   * Node's process metrics (CPU, memory, event loop lag, GC, handles). On by default; tests that
   * compare whole scrapes turn them off because their values move on their own.
   */
  defaultMetrics?: boolean;
}

/**
 * One registry per process, never prom-client's global one: agentlabd runs control, runner and
 * artifacts together and must expose each metric family exactly once, and tests build many
 * registries side by side. Every series carries `service` so one Prometheus job can scrape
 * standalone services and agentlabd alike.
 */
export function createMetricsRegistry(service: string, options: MetricsRegistryOptions = {}): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });
  return registry;
}
