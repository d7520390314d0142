/** ProfileService: profiles as loaded, with their errors, and atomic reload. */

import {
  type ProfileIssue,
  ProfileIssueSchema,
  type Profile as ProfileMessage,
  ProfileSchema,
  ProfileService,
  ProfileStatus,
} from "@agentlab/api";
import { NotFoundError } from "@agentlab/core";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { ConnectRouter } from "@connectrpc/connect";
import type { ProfileDiagnostic } from "./profile-diagnostic.js";
import type { ProfileListEntry, ProfileRegistry } from "./profile-registry.js";

const STATUS: Record<ProfileListEntry["status"], ProfileStatus> = {
  ok: ProfileStatus.OK,
  stale: ProfileStatus.STALE,
  invalid: ProfileStatus.INVALID,
};

function issue(d: ProfileDiagnostic): ProfileIssue {
  const hint = d.hint ? ` (${d.hint})` : "";
  return create(ProfileIssueSchema, {
    file: d.file,
    line: d.line,
    column: d.column,
    key: d.key,
    message: `${d.message}${hint}`,
  });
}

export function profileEntryToProto(entry: ProfileListEntry): ProfileMessage {
  const loaded = entry.profile;
  const p = loaded?.profile;
  return create(ProfileSchema, {
    name: entry.name,
    status: STATUS[entry.status],
    backend: p?.backend ?? "",
    templateVmid: p?.backend === "proxmox" ? p.template_vmid : 0,
    cores: p?.resources.cores ?? 0,
    memoryMb: p?.resources.memory_mb ?? 0,
    ttlMinutesDefault: p?.behavior.ttl_minutes_default ?? 0,
    keepaliveDefault: p?.behavior.keepalive_default ?? false,
    sourceFile: entry.source.file,
    yaml: loaded?.yamlText ?? "",
    errors: entry.errors.map(issue),
    warnings: entry.warnings.map(issue),
    updatedAt: loaded ? timestampFromDate(loaded.fileModifiedAt) : undefined,
    networkMode: p?.network.mode ?? "",
  });
}

export function registerProfileRoutes(router: ConnectRouter, deps: { profiles: ProfileRegistry }): void {
  const list = () => deps.profiles.list().map(profileEntryToProto);
  router.service(ProfileService, {
    listProfiles() {
      return { profiles: list() };
    },
    getProfile(req) {
      const entry = deps.profiles.list().find((e) => e.name === req.name);
      if (!entry) {
        const known = deps.profiles.list().map((e) => e.name);
        throw new NotFoundError({
          message: `profile ${JSON.stringify(req.name)} not found`,
          value: req.name,
          hint: known.length ? `known profiles: ${known.join(", ")}` : "no profiles are loaded: check profiles_dir",
        });
      }
      return { profile: profileEntryToProto(entry) };
    },
    async reloadProfiles() {
      await deps.profiles.reload();
      const profiles = list();
      const loaded = profiles.filter((p) => p.status === ProfileStatus.OK).length;
      return { profiles, loaded, failed: profiles.length - loaded };
    },
  });
}
