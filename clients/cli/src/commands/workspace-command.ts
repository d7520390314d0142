import { toDisplayJson, type Workspace, WorkspaceSchema } from "@agentlab/api";
import type { Command } from "commander";
import type { CliContext } from "../cli-context.js";
import { parseSandboxRef, parseSizeGb, parseWorkspaceRef } from "../cli-parsers.js";
import { action, callOptions } from "../command-action.js";
import type { CommandOutput } from "../output/output-format.js";
import { workspaceFields, workspaceTable } from "../views.js";

function one(_ctx: CliContext, workspace: Workspace | undefined): CommandOutput {
  if (!workspace) throw new Error("control returned no workspace");
  return { data: toDisplayJson(WorkspaceSchema, workspace), fields: workspaceFields(workspace) };
}

export function registerWorkspaceCommands(program: Command): void {
  const workspace = program.command("workspace").description("persistent disks that outlive sandboxes");

  workspace
    .command("create")
    .description("create a workspace volume")
    .requiredOption("-n, --name <name>", "unique name")
    .requiredOption("--size <size>", "size in GiB: 20, 20G or 20GB")
    .option("--storage <id>", "storage on the runner (default local-zfs, or local for local sandboxes)")
    .option("--runner <name>", "runner to create it on")
    .action(
      action(async (ctx, opts: { name: string; size: string; storage?: string; runner?: string }) => {
        const res = await ctx
          .clients()
          .workspaces.createWorkspace(
            { name: opts.name, sizeGb: parseSizeGb(opts.size), storage: opts.storage ?? "", runner: opts.runner ?? "" },
            callOptions(ctx),
          );
        return one(ctx, res.workspace);
      }),
    );

  workspace
    .command("list")
    .description("list workspaces")
    .action(
      action(async (ctx) => {
        const all: Workspace[] = [];
        let pageToken = "";
        do {
          const res = await ctx.clients().workspaces.listWorkspaces({ pageToken }, callOptions(ctx));
          all.push(...res.workspaces);
          pageToken = res.nextPageToken;
        } while (pageToken);
        return { data: all.map((w) => toDisplayJson(WorkspaceSchema, w)), table: workspaceTable(all, ctx.now()) };
      }),
    );

  workspace
    .command("show <workspace>")
    .description("show a workspace by id or name")
    .action(
      action(async (ctx, ref: string) =>
        one(
          ctx,
          (await ctx.clients().workspaces.getWorkspace({ workspace: parseWorkspaceRef(ref) }, callOptions(ctx)))
            .workspace,
        ),
      ),
    );

  workspace
    .command("attach <workspace> <sandbox>")
    .description("attach a detached workspace to a sandbox")
    .action(
      action(async (ctx, ws: string, sb: string) =>
        one(
          ctx,
          (
            await ctx
              .clients()
              .workspaces.attachWorkspace(
                { workspace: parseWorkspaceRef(ws), sandbox: parseSandboxRef(sb) },
                callOptions(ctx),
              )
          ).workspace,
        ),
      ),
    );

  workspace
    .command("detach <workspace>")
    .description("detach a workspace from its sandbox")
    .action(
      action(async (ctx, ws: string) =>
        one(
          ctx,
          (await ctx.clients().workspaces.detachWorkspace({ workspace: parseWorkspaceRef(ws) }, callOptions(ctx)))
            .workspace,
        ),
      ),
    );

  workspace
    .command("delete <workspace>")
    .description("delete a detached workspace and its volume")
    .action(
      action(async (ctx, ws: string) =>
        one(
          ctx,
          (await ctx.clients().workspaces.deleteWorkspace({ workspace: parseWorkspaceRef(ws) }, callOptions(ctx)))
            .workspace,
        ),
      ),
    );
}
