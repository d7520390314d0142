import {
  enumDisplayName,
  type Profile,
  type ProfileIssue,
  ProfileSchema,
  ProfileStatusSchema,
  toDisplayJson,
} from "@agentlab/api";
import type { Command } from "commander";
import { action, callOptions } from "../command-action.js";
import { renderTable } from "../output/output-format.js";
import { profileTable } from "../views.js";

function issueLine(kind: string, profile: string, e: ProfileIssue): string {
  return `${kind}: ${profile}: ${e.file}${e.line ? `:${e.line}` : ""}${e.key ? ` (${e.key})` : ""}: ${e.message}`;
}

/** The table, followed by every error (so `profile list` shows why a profile is unavailable). */
function profilesText(profiles: Profile[], color: boolean): string {
  const errors = profiles.flatMap((p) => p.errors.map((e) => issueLine("error", p.name, e)));
  return [renderTable(profileTable(profiles, color)), ...(errors.length ? ["", ...errors] : [])].join("\n");
}

export function registerProfileCommands(program: Command): void {
  const profile = program.command("profile").description("list, show and reload sandbox profiles");

  profile
    .command("list")
    .description("list profiles with their status and errors")
    .action(
      action(async (ctx) => {
        const { profiles } = await ctx.clients().profiles.listProfiles({}, callOptions(ctx));
        return {
          data: profiles.map((p) => toDisplayJson(ProfileSchema, p)),
          text: profilesText(profiles, ctx.printer.color),
        };
      }),
    );

  profile
    .command("show <name>")
    .description("show one profile: its YAML, errors and warnings")
    .action(
      action(async (ctx, name: string) => {
        const { profile: p } = await ctx.clients().profiles.getProfile({ name }, callOptions(ctx));
        if (!p) throw new Error(`control returned no profile for ${JSON.stringify(name)}`);
        const text = [
          `# ${p.name} (${enumDisplayName(ProfileStatusSchema, p.status)}) from ${p.sourceFile}`,
          ...p.errors.map((e) => issueLine("error", p.name, e)),
          ...p.warnings.map((e) => issueLine("warning", p.name, e)),
          p.yaml.trimEnd(),
        ].join("\n");
        return { data: toDisplayJson(ProfileSchema, p), text };
      }),
    );

  profile
    .command("reload")
    .description("re-read profiles_dir now, as SIGHUP does")
    .action(
      action(async (ctx) => {
        const res = await ctx.clients().profiles.reloadProfiles({}, callOptions(ctx));
        return {
          data: {
            loaded: res.loaded,
            failed: res.failed,
            profiles: res.profiles.map((p) => toDisplayJson(ProfileSchema, p)),
          },
          text: `reloaded: ${res.loaded} ok, ${res.failed} failed\n${profilesText(res.profiles, ctx.printer.color)}`,
        };
      }),
    );
}
