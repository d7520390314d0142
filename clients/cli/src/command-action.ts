/**
 * Glue between commander and handlers: resolves the context, runs the handler, prints its output.
 * Exit codes and error printing happen once, in main.ts.
 */
import type { Command } from "commander";
import { type CliContext, resolveContext } from "./cli-context.js";
import type { CommandOutput } from "./output/output-format.js";

export type Handler<A extends unknown[]> = (ctx: CliContext, ...args: A) => Promise<CommandOutput | undefined>;

/** Wraps a handler as a commander action. Commander passes (...positionals, options, command). */
export function action<A extends unknown[]>(handler: Handler<A>) {
  return async (...raw: unknown[]) => {
    const command = raw[raw.length - 1] as Command;
    const args = raw.slice(0, -1) as A;
    const ctx = resolveContext(command);
    const output = await handler(ctx, ...args);
    if (output) ctx.printer.print(output);
  };
}

/** Call options for unary RPCs: the --timeout. */
export function callOptions(ctx: CliContext) {
  return { timeoutMs: ctx.timeoutMs };
}
