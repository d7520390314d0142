import type { Registry } from "prom-client";
import type { SqliteDatabase } from "../db/open-database.js";
import type { EventBus } from "../events/event-bus.js";
import { createJobMetrics } from "./job-metrics.js";
import { registerQueueGauges } from "./queue-gauges.js";
import { createSandboxMetrics } from "./sandbox-metrics.js";

export interface ControlMetricsDeps {
  registry: Registry;
  db: SqliteDatabase;
  bus: EventBus;
}

export interface ControlMetrics {
  /** Stops listening to the bus; the registered series stay, frozen. */
  stop(): void;
}

/**
 * Registers control's metric families on `registry` and follows the event bus. Events are read
 * after their commit, so a rolled-back transition is never counted.
 */
export function attachControlMetrics(deps: ControlMetricsDeps): ControlMetrics {
  const sandboxes = createSandboxMetrics(deps.registry, deps.db);
  const jobs = createJobMetrics(deps.registry, deps.db);
  registerQueueGauges(deps.registry, deps.db);
  const unsubscribe = deps.bus.subscribe((event) => {
    sandboxes.observe(event);
    jobs.observe(event);
  });
  return { stop: unsubscribe };
}
