import { GetStatusResponseSchema, toDisplayJson } from "@agentlab/api";
import type { Command } from "commander";
import { action, callOptions } from "../command-action.js";
import { paint } from "../output/colors.js";
import { isoOf } from "../views.js";

export function registerStatusCommand(program: Command): void {
  program
    .command("status")
    .description("show control's version, schema, peers and counts")
    .option("--integrity-check", "also run PRAGMA integrity_check on the database")
    .action(
      action(async (ctx, opts: { integrityCheck?: boolean }) => {
        const status = await ctx
          .clients()
          .system.getStatus({ integrityCheck: opts.integrityCheck ?? false }, callOptions(ctx));
        const v = status.version;
        const fields: Array<[string, string]> = [
          ["Control", v ? `version=${v.version} commit=${v.commit} date=${v.date}` : "-"],
          ["Started", isoOf(status.startedAt) ?? "-"],
          ["Deployment", status.deploymentId || "-"],
          ["Backend", status.sandboxBackend || "-"],
          ["Database", status.databasePath || "-"],
          ["Schema", `${status.schemaVersion} (latest known ${status.latestSchemaVersion})`],
        ];
        if (status.integrityCheck) fields.push(["Integrity", status.integrityCheck]);
        fields.push(["Profiles", `${status.profilesOk} ok, ${status.profilesFailed} failed`]);
        for (const peer of status.peers) {
          const state = peer.reachable
            ? paint(ctx.printer.color, "green", "reachable")
            : paint(ctx.printer.color, "red", `unreachable (${peer.error})`);
          const detail = [
            peer.backendKind,
            peer.backendDetail,
            peer.version ? `version=${peer.version.version} commit=${peer.version.commit}` : "",
          ]
            .filter(Boolean)
            .join(", ");
          fields.push([`${peer.kind} ${peer.name}`, `${state} ${peer.endpoint}${detail ? ` — ${detail}` : ""}`]);
        }
        const counts = (list: Array<{ state: string; count: number }>) =>
          list.length ? list.map((c) => `${c.state}=${c.count}`).join(" ") : "none";
        fields.push(["Sandboxes", counts(status.sandboxCounts)], ["Jobs", counts(status.jobCounts)]);
        return { data: toDisplayJson(GetStatusResponseSchema, status), fields };
      }),
    );
}
