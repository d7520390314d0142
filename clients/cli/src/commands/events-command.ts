import { EventFilterSchema, EventSchema, toDisplayJson } from "@agentlab/api";
import { create } from "@bufbuild/protobuf";
import type { Command } from "commander";
import { parsePositiveInt } from "../cli-parsers.js";
import { action, callOptions } from "../command-action.js";
import { eventLine, eventTable } from "../views.js";

interface EventsOptions {
  follow?: boolean;
  tail?: string;
  after?: string;
  limit?: string;
  sandbox?: string;
  job?: string;
  kind?: string[];
}

export function registerEventsCommand(program: Command): void {
  program
    .command("events")
    .description("show the event log; --follow streams new events as they happen")
    .option("-f, --follow", "keep streaming new events until interrupted")
    .option("--tail <n>", "the last N events (default 50 unless --after)")
    .option("--after <id>", "events after this id")
    .option("--limit <n>", "at most N events (1..1000)")
    .option("--sandbox <vmid>", "only events of this sandbox")
    .option("--job <id>", "only events of this job")
    .option("--kind <kind...>", "only these kinds, e.g. sandbox.state")
    .action(
      action(async (ctx, opts: EventsOptions) => {
        const filter = create(EventFilterSchema, {
          sandboxVmid: opts.sandbox ? parsePositiveInt(opts.sandbox, "VMID") : 0,
          jobId: opts.job ?? "",
          kinds: opts.kind ?? [],
        });
        const afterId = opts.after ? BigInt(parsePositiveInt(opts.after, "event id")) : 0n;
        const tail = opts.after ? 0 : opts.tail ? parsePositiveInt(opts.tail, "tail") : 50;
        const limit = opts.limit ? parsePositiveInt(opts.limit, "limit") : 0;
        const res = await ctx.clients().events.listEvents({ afterId, tail, limit, filter }, callOptions(ctx));
        if (!opts.follow) {
          return { data: res.events.map((e) => toDisplayJson(EventSchema, e)), table: eventTable(res.events) };
        }
        for (const e of res.events) ctx.printer.line(eventLine(e), toDisplayJson(EventSchema, e));
        const abort = new AbortController();
        process.once("SIGINT", () => abort.abort());
        try {
          for await (const msg of ctx
            .clients()
            .events.watchEvents({ afterId: res.lastId, filter }, { signal: abort.signal })) {
            if (msg.event) ctx.printer.line(eventLine(msg.event), toDisplayJson(EventSchema, msg.event));
          }
        } catch (err) {
          if (!abort.signal.aborted) throw err;
        }
        return undefined;
      }),
    );
}
