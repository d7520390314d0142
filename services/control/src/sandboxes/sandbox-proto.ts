/** Sandbox records as contract messages, and selectors as store references. */

import { type Sandbox, SandboxSchema, type SandboxSelector, SandboxState } from "@agentlab/api";
import { InvalidArgumentError } from "@agentlab/core";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { parseTimestamp } from "../db/timestamps.js";
import type { SandboxRecord } from "./sandbox-record.js";
import type { SandboxStateName } from "./sandbox-state-machine.js";
import type { SandboxRef } from "./sandbox-store.js";

export function sandboxStateToProto(state: SandboxStateName): SandboxState {
  return SandboxState[state];
}

export function sandboxStateFromProto(state: SandboxState): SandboxStateName {
  const name = SandboxState[state] as SandboxStateName | "UNSPECIFIED" | undefined;
  if (!name || name === "UNSPECIFIED") {
    throw new InvalidArgumentError({ message: `invalid sandbox state ${state}`, value: state });
  }
  return name;
}

export function sandboxToProto(s: SandboxRecord, jobId = ""): Sandbox {
  const ts = (text: string | null) => (text ? timestampFromDate(parseTimestamp(text)) : undefined);
  return create(SandboxSchema, {
    vmid: s.vmid,
    name: s.name,
    profile: s.profile,
    state: sandboxStateToProto(s.state),
    ip: s.ip ?? "",
    workspaceId: s.workspaceId ?? "",
    keepalive: s.keepalive,
    leaseExpiresAt: ts(s.leaseExpiresAt),
    createdAt: ts(s.createdAt),
    updatedAt: ts(s.updatedAt),
    runner: s.runner ?? "",
    jobId,
    terminationReason: s.terminationReason ?? "",
    owned: s.ownerTag !== null,
    backend: typeof s.meta.backend === "string" ? s.meta.backend : "",
  });
}

export function sandboxRefFromSelector(selector: SandboxSelector | undefined): SandboxRef {
  const s = selector?.selector;
  if (s?.case === "vmid" && s.value > 0) return { vmid: s.value };
  if (s?.case === "name" && s.value) {
    // A name that is all digits is a VMID typed as text.
    return /^\d+$/.test(s.value) ? { vmid: Number(s.value) } : { name: s.value };
  }
  throw new InvalidArgumentError({ message: "no sandbox given", hint: "name a sandbox by VMID or name" });
}
