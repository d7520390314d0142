import {
  addEnumPrefix,
  enumDisplayName,
  ReconcileSandboxesResponseSchema,
  type Sandbox,
  SandboxSchema,
  type SandboxState,
  SandboxStateSchema,
  toDisplayJson,
} from "@agentlab/api";
import type { Command } from "commander";
import type { CliContext } from "../cli-context.js";
import { UsageError } from "../cli-errors.js";
import { parseSandboxRef, parseTtlMinutes } from "../cli-parsers.js";
import { action, callOptions } from "../command-action.js";
import { type CommandOutput, renderTable } from "../output/output-format.js";
import { sandboxFields, sandboxTable } from "../views.js";

function one(ctx: CliContext, sandbox: Sandbox | undefined): CommandOutput {
  if (!sandbox) throw new Error("control returned no sandbox");
  return { data: toDisplayJson(SandboxSchema, sandbox), fields: sandboxFields(sandbox, ctx.printer.color, ctx.now()) };
}

function parseStates(names: string[] | undefined): SandboxState[] {
  return (names ?? []).map((name) => {
    const full = addEnumPrefix(SandboxStateSchema, name);
    const value = SandboxStateSchema.values.find((v) => v.name === full && v.number !== 0);
    if (!value) {
      const allowed = SandboxStateSchema.values
        .filter((v) => v.number !== 0)
        .map((v) => enumDisplayName(SandboxStateSchema, v.number));
      throw new UsageError(`invalid state ${JSON.stringify(name)}: use one of ${allowed.join(", ")}`);
    }
    return value.number as SandboxState;
  });
}

export function registerSandboxCommands(program: Command): void {
  const sandbox = program.command("sandbox").description("create, inspect and destroy sandboxes");

  sandbox
    .command("list")
    .description("list sandboxes (not DESTROYED unless --all)")
    .option("--all", "include DESTROYED tombstones")
    .option("--state <state...>", "only these states, e.g. RUNNING READY")
    .option("--profile <name>", "only this profile")
    .action(
      action(async (ctx, opts: { all?: boolean; state?: string[]; profile?: string }) => {
        const sandboxes: Sandbox[] = [];
        let pageToken = "";
        do {
          const res = await ctx.clients().sandboxes.listSandboxes(
            {
              states: parseStates(opts.state),
              profile: opts.profile ?? "",
              includeDestroyed: opts.all ?? false,
              pageToken,
            },
            callOptions(ctx),
          );
          sandboxes.push(...res.sandboxes);
          pageToken = res.nextPageToken;
        } while (pageToken);
        return {
          data: sandboxes.map((s) => toDisplayJson(SandboxSchema, s)),
          table: sandboxTable(sandboxes, ctx.printer.color, ctx.now()),
        };
      }),
    );

  sandbox
    .command("new")
    .description("create a sandbox from a profile and wait until it is READY")
    .requiredOption("-p, --profile <name>", "profile to create it from")
    .option("-n, --name <name>", "sandbox name (default sandbox-<vmid>)")
    .option("--ttl <duration>", "lease: minutes or a duration like 90m, 2h")
    .option("--keepalive", "keep it after its job ends")
    .option("--workspace <id|name>", "attach this workspace")
    .option("--no-wait", "return as soon as it is recorded")
    .option("--idempotency-key <key>", "retrying with the same key returns the same sandbox")
    .action(
      action(
        async (
          ctx,
          opts: {
            profile: string;
            name?: string;
            ttl?: string;
            keepalive?: boolean;
            workspace?: string;
            wait: boolean;
            idempotencyKey?: string;
          },
        ) => {
          const res = await ctx.clients().sandboxes.createSandbox(
            {
              profile: opts.profile,
              name: opts.name ?? "",
              ttlMinutes: opts.ttl ? parseTtlMinutes(opts.ttl) : undefined,
              keepalive: opts.keepalive ? true : undefined,
              workspace: opts.workspace ?? "",
              wait: opts.wait,
              idempotencyKey: opts.idempotencyKey ?? "",
            },
            callOptions(ctx),
          );
          return one(ctx, res.sandbox);
        },
      ),
    );

  sandbox
    .command("show <sandbox>")
    .description("show a sandbox by name or VMID")
    .action(
      action(async (ctx, ref: string) => {
        const res = await ctx.clients().sandboxes.getSandbox({ sandbox: parseSandboxRef(ref) }, callOptions(ctx));
        return one(ctx, res.sandbox);
      }),
    );

  sandbox
    .command("destroy <sandbox>")
    .description("stop and remove a sandbox's VM; --force for stuck sandboxes")
    .option("--force", "destroy whatever its state, accepting a VM that is already gone")
    .option("--reason <text>", "recorded as the termination reason")
    .action(
      action(async (ctx, ref: string, opts: { force?: boolean; reason?: string }) => {
        const res = await ctx
          .clients()
          .sandboxes.destroySandbox(
            { sandbox: parseSandboxRef(ref), force: opts.force ?? false, reason: opts.reason ?? "" },
            callOptions(ctx),
          );
        return one(ctx, res.sandbox);
      }),
    );

  sandbox
    .command("start <sandbox>")
    .description("start a STOPPED sandbox")
    .action(
      action(async (ctx, ref: string) =>
        one(
          ctx,
          (await ctx.clients().sandboxes.startSandbox({ sandbox: parseSandboxRef(ref) }, callOptions(ctx))).sandbox,
        ),
      ),
    );

  sandbox
    .command("stop <sandbox>")
    .description("stop a sandbox's VM (it can be started again)")
    .action(
      action(async (ctx, ref: string) =>
        one(
          ctx,
          (await ctx.clients().sandboxes.stopSandbox({ sandbox: parseSandboxRef(ref) }, callOptions(ctx))).sandbox,
        ),
      ),
    );

  sandbox
    .command("lease")
    .description("manage a sandbox's lease")
    .command("renew <sandbox>")
    .description("set the lease to now + TTL")
    .requiredOption("--ttl <duration>", "minutes or a duration like 90m, 2h")
    .action(
      action(async (ctx, ref: string, opts: { ttl: string }) => {
        const res = await ctx
          .clients()
          .sandboxes.renewLease(
            { sandbox: parseSandboxRef(ref), ttlMinutes: parseTtlMinutes(opts.ttl) },
            callOptions(ctx),
          );
        return one(ctx, res.sandbox);
      }),
    );

  sandbox
    .command("prune")
    .description("destroy sandboxes that have ended (TIMEOUT, FAILED, COMPLETED, STOPPED without keepalive)")
    .option("--dry-run", "only show what would be destroyed")
    .action(
      action(async (ctx, opts: { dryRun?: boolean }) => {
        const res = await ctx.clients().sandboxes.pruneSandboxes({ dryRun: opts.dryRun ?? false }, callOptions(ctx));
        const verb = opts.dryRun ? "would destroy" : "destroyed";
        return {
          data: { count: res.count, vmids: res.vmids, dry_run: opts.dryRun ?? false },
          text: `${verb} ${res.count} sandbox(es)${res.vmids.length ? `: ${res.vmids.join(", ")}` : ""}`,
        };
      }),
    );

  sandbox
    .command("reconcile")
    .description("compare sandboxes with the hypervisor and fix what drifted")
    .option("--dry-run", "only show what a sweep would do")
    .action(
      action(async (ctx, opts: { dryRun?: boolean }) => {
        const res = await ctx
          .clients()
          .sandboxes.reconcileSandboxes({ dryRun: opts.dryRun ?? false }, callOptions(ctx));
        const rows = res.actions.map((a) => [
          String(a.vmid),
          a.action,
          a.fromState ? enumDisplayName(SandboxStateSchema, a.fromState) : "-",
          a.toState ? enumDisplayName(SandboxStateSchema, a.toState) : "-",
          a.reason,
        ]);
        const unreachable = res.unreachableRunners.length
          ? `\nunreachable runners (left alone): ${res.unreachableRunners.join(", ")}`
          : "";
        return {
          data: toDisplayJson(ReconcileSandboxesResponseSchema, res),
          text:
            renderTable({ columns: ["VMID", "ACTION", "FROM", "TO", "REASON"], rows, empty: "nothing to reconcile" }) +
            unreachable,
        };
      }),
    );
}
