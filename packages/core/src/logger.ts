import { type DestinationStream, type LevelWithSilent, type Logger, pino } from "pino";
import { currentRequestId } from "./request-context.js";
import { REDACTED, secretRedactionPaths } from "./secret-redaction.js";

export type { Logger } from "pino";

export interface CreateLoggerOptions {
  /** Which process is logging: `control`, `runner`, `artifacts`, `cli`, `guest`. */
  service: string;
  level?: LevelWithSilent;
  /** Where JSON lines go; stdout (journald) by default. Tests pass a stream they read. */
  destination?: DestinationStream | NodeJS.WritableStream;
  /** Extra fields on every line (e.g. `runner: "pve1"`). */
  base?: Record<string, unknown>;
}

/**
 * The one logger every process uses: JSON lines with a word for the level (`"level":"error"`), an
 * ISO timestamp, the service name, the current request id (when inside a request), and every
 * secret-bearing field replaced with `[REDACTED]`.
 */
export function createLogger(options: CreateLoggerOptions): Logger {
  return pino(
    {
      level: options.level ?? "info",
      base: { service: options.service, ...options.base },
      timestamp: pino.stdTimeFunctions.isoTime,
      messageKey: "msg",
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: secretRedactionPaths(), censor: REDACTED },
      mixin() {
        const requestId = currentRequestId();
        return requestId ? { request_id: requestId } : {};
      },
    },
    (options.destination ?? pino.destination({ dest: 1, sync: false })) as DestinationStream,
  );
}
