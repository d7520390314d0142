/** How contract messages look to a person: table rows and key/value lines. JSON uses toDisplayJson. */

import type { Artifact } from "@agentlab/api";
import {
  type Event,
  enumDisplayName,
  type Job,
  JobStatusSchema,
  type Profile,
  ProfileStatusSchema,
  type Sandbox,
  SandboxStateSchema,
  type Workspace,
} from "@agentlab/api";
import { type Timestamp, timestampDate } from "@bufbuild/protobuf/wkt";
import { paintState } from "./output/colors.js";
import type { TableView } from "./output/output-format.js";
import { formatBytes, relativeTime } from "./output/relative-time.js";

export function isoOf(ts: Timestamp | undefined): string | undefined {
  return ts ? timestampDate(ts).toISOString() : undefined;
}

export const sandboxState = (s: Sandbox) => enumDisplayName(SandboxStateSchema, s.state);
export const jobStatus = (j: Job) => enumDisplayName(JobStatusSchema, j.status);

export function sandboxTable(sandboxes: Sandbox[], color: boolean, now: Date): TableView {
  return {
    columns: ["VMID", "NAME", "PROFILE", "STATE", "IP", "LEASE", "CREATED"],
    rows: sandboxes.map((s) => [
      String(s.vmid),
      s.name,
      s.profile,
      paintState(color, sandboxState(s)),
      s.ip || "-",
      relativeTime(isoOf(s.leaseExpiresAt), now),
      relativeTime(isoOf(s.createdAt), now),
    ]),
    empty: "no sandboxes",
  };
}

export function sandboxFields(s: Sandbox, color: boolean, now: Date): Array<[string, string]> {
  const lease = isoOf(s.leaseExpiresAt);
  return [
    ["VMID", String(s.vmid)],
    ["Name", s.name],
    ["Profile", s.profile],
    ["State", paintState(color, sandboxState(s))],
    ["Backend", s.backend || "-"],
    ["Runner", s.runner || "-"],
    ["IP", s.ip || "-"],
    ["Workspace", s.workspaceId || "-"],
    ["Job", s.jobId || "-"],
    ["Keepalive", String(s.keepalive)],
    ["Lease", lease ? `${lease} (${relativeTime(lease, now)})` : "-"],
    ["Owned", String(s.owned)],
    ...(s.terminationReason ? [["Reason", s.terminationReason] as [string, string]] : []),
    ["Created", isoOf(s.createdAt) ?? "-"],
    ["Updated", isoOf(s.updatedAt) ?? "-"],
  ];
}

export function jobTable(jobs: Job[], color: boolean, now: Date): TableView {
  return {
    columns: ["ID", "STATUS", "PROFILE", "REPO", "VMID", "CREATED"],
    rows: jobs.map((j) => [
      j.id,
      paintState(color, jobStatus(j)),
      j.profile,
      j.repoUrl,
      j.sandboxVmid ? String(j.sandboxVmid) : "-",
      relativeTime(isoOf(j.createdAt), now),
    ]),
    empty: "no jobs",
  };
}

export function jobFields(j: Job, color: boolean): Array<[string, string]> {
  const fields: Array<[string, string]> = [
    ["ID", j.id],
    ["Status", paintState(color, jobStatus(j))],
    ["Repo", j.repoUrl],
    ["Ref", j.ref],
    ["Profile", j.profile],
    ["Mode", j.mode],
    ["TTL", `${j.ttlMinutes}m`],
    ["Keepalive", String(j.keepalive)],
    ["Sandbox", j.sandboxVmid ? String(j.sandboxVmid) : "-"],
    ["Task", j.task.length > 200 ? `${j.task.slice(0, 200)}…` : j.task],
  ];
  if (j.failureReason) fields.push(["Reason", j.failureReason]);
  if (j.result) {
    fields.push(["Exit code", String(j.result.exitCode)]);
    fields.push(["Duration", `${j.result.durationSeconds.toFixed(1)}s`]);
    if (j.result.startCommit) fields.push(["Start commit", j.result.startCommit]);
    if (j.result.finalCommit) fields.push(["Final commit", j.result.finalCommit]);
    if (j.result.message) fields.push(["Message", j.result.message]);
  }
  fields.push(["Created", isoOf(j.createdAt) ?? "-"], ["Updated", isoOf(j.updatedAt) ?? "-"]);
  return fields;
}

export function eventLine(e: Event): string {
  const who = [e.sandboxVmid ? `vmid=${e.sandboxVmid}` : "", e.jobId ? `job=${e.jobId}` : ""].filter(Boolean).join(" ");
  return [isoOf(e.ts) ?? "", e.kind, who || "-", e.msg].join("\t");
}

export function eventTable(events: Event[]): TableView {
  return {
    columns: ["ID", "TIME", "KIND", "SANDBOX", "JOB", "MESSAGE"],
    rows: events.map((e) => [
      String(e.id),
      isoOf(e.ts) ?? "-",
      e.kind,
      e.sandboxVmid ? String(e.sandboxVmid) : "-",
      e.jobId || "-",
      e.msg,
    ]),
    empty: "no events",
  };
}

export function profileTable(profiles: Profile[], color: boolean): TableView {
  return {
    columns: ["NAME", "STATUS", "BACKEND", "TEMPLATE", "CORES", "MEMORY", "TTL", "KEEPALIVE", "SOURCE"],
    rows: profiles.map((p) => [
      p.name,
      paintState(color, enumDisplayName(ProfileStatusSchema, p.status)),
      p.backend,
      p.templateVmid ? String(p.templateVmid) : "-",
      p.cores ? String(p.cores) : "-",
      p.memoryMb ? `${p.memoryMb} MiB` : "-",
      p.ttlMinutesDefault ? `${p.ttlMinutesDefault}m` : "-",
      String(p.keepaliveDefault),
      p.sourceFile,
    ]),
    empty: "no profiles",
  };
}

export function workspaceTable(workspaces: Workspace[], now: Date): TableView {
  return {
    columns: ["ID", "NAME", "STORAGE", "SIZE", "ATTACHED", "CREATED"],
    rows: workspaces.map((w) => [
      w.id,
      w.name,
      w.storage,
      `${w.sizeGb}G`,
      w.attachedVmid ? String(w.attachedVmid) : "-",
      relativeTime(isoOf(w.createdAt), now),
    ]),
    empty: "no workspaces",
  };
}

export function workspaceFields(w: Workspace): Array<[string, string]> {
  return [
    ["ID", w.id],
    ["Name", w.name],
    ["Storage", w.storage],
    ["Volume", w.volid || "-"],
    ["Size", `${w.sizeGb}G`],
    ["Attached", w.attachedVmid ? String(w.attachedVmid) : "-"],
    ["Runner", w.runner || "-"],
    ["Created", isoOf(w.createdAt) ?? "-"],
    ["Updated", isoOf(w.updatedAt) ?? "-"],
  ];
}

export function artifactTable(artifacts: Artifact[]): TableView {
  return {
    columns: ["ID", "NAME", "PATH", "SIZE", "MIME", "CREATED", "SHA256"],
    rows: artifacts.map((a) => [
      String(a.id),
      a.name,
      a.path,
      formatBytes(Number(a.sizeBytes)),
      a.mime,
      isoOf(a.createdAt) ?? "-",
      a.sha256.slice(0, 12),
    ]),
    empty: "no artifacts",
  };
}
