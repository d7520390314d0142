/**
 * WorkspaceService: volumes created through a runner, attached to one sandbox at a time (the
 * original's rules: a workspace attached elsewhere, or a sandbox that already has one, is refused).
 */
import { randomBytes } from "node:crypto";
import { type Workspace, WorkspaceSchema, type WorkspaceSelector, WorkspaceService } from "@agentlab/api";
import { FailedPreconditionError, InvalidArgumentError } from "@agentlab/core";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { ConnectRouter } from "@connectrpc/connect";
import type { SqliteDatabase } from "../db/open-database.js";
import { type Clock, nowTimestamp, parseTimestamp } from "../db/timestamps.js";
import type { EventBus } from "../events/event-bus.js";
import { recordEvent } from "../events/record-event.js";
import type { RunnerPool } from "../runners/runner-pool.js";
import { sandboxRefFromSelector } from "../sandboxes/sandbox-proto.js";
import { resolveSandbox } from "../sandboxes/sandbox-store.js";
import {
  deleteWorkspaceRow,
  getWorkspace,
  insertWorkspace,
  listWorkspaces,
  setWorkspaceAttachment,
  type WorkspaceRecord,
  type WorkspaceRef,
  workspaceAttachedTo,
} from "./workspace-store.js";

export interface WorkspaceRoutesDeps {
  db: SqliteDatabase;
  bus: EventBus;
  clock: Clock;
  runners: RunnerPool;
  /** Disk slot workspaces use (the original's `scsi1`). */
  slot?: string;
  timeoutMs?: number;
}

const NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

export function workspaceToProto(w: WorkspaceRecord): Workspace {
  return create(WorkspaceSchema, {
    id: w.id,
    name: w.name,
    storage: w.storage,
    volid: w.volid,
    sizeGb: w.sizeGb,
    attachedVmid: w.attachedVmid ?? 0,
    createdAt: timestampFromDate(parseTimestamp(w.createdAt)),
    updatedAt: timestampFromDate(parseTimestamp(w.updatedAt)),
    runner: w.runner ?? "",
  });
}

export function workspaceRefFromSelector(selector: WorkspaceSelector | undefined): WorkspaceRef {
  const s = selector?.selector;
  if (s?.case === "id" && s.value) return { id: s.value };
  if (s?.case === "name" && s.value) return { name: s.value };
  throw new InvalidArgumentError({ message: "no workspace given", hint: "name a workspace by id or name" });
}

export function registerWorkspaceRoutes(router: ConnectRouter, deps: WorkspaceRoutesDeps): void {
  const { db, clock } = deps;
  const slot = deps.slot ?? "scsi1";
  const call = () => ({ timeoutMs: deps.timeoutMs ?? 120_000 });
  const event = (kind: string, w: WorkspaceRecord, msg: string, vmid?: number) =>
    recordEvent(
      db,
      deps.bus,
      { kind, msg, ...(vmid ? { sandboxVmid: vmid } : {}), payload: { workspace_id: w.id, name: w.name } },
      clock,
    );

  router.service(WorkspaceService, {
    async createWorkspace(req) {
      if (!NAME.test(req.name)) {
        throw new InvalidArgumentError({
          message: `invalid workspace name ${JSON.stringify(req.name)}`,
          value: req.name,
          hint: "use a DNS label: lower-case letters, digits and '-'",
        });
      }
      if (req.sizeGb < 1 || req.sizeGb > 65536) {
        throw new InvalidArgumentError({
          message: `size_gb ${req.sizeGb} is out of range`,
          value: req.sizeGb,
          hint: "use 1..65536 GiB",
        });
      }
      const runner = req.runner ? deps.runners.get(req.runner) : deps.runners.all()[0];
      if (!runner) throw new FailedPreconditionError({ message: "no runner is configured" });
      let storage = req.storage;
      if (!storage) {
        const info = await runner.client.getInfo({}, call());
        storage = info.backendKind === "local" ? "local" : "local-zfs";
      }
      const id = `workspace-${randomBytes(8).toString("hex")}`;
      const volume = await runner.client.createVolume(
        {
          requestId: req.idempotencyKey || `create-volume-${id}`,
          storage,
          name: `agentlab-ws-${req.name}`,
          sizeGb: req.sizeGb,
        },
        call(),
      );
      const record = insertWorkspace(db, {
        id,
        name: req.name,
        storage,
        volid: volume.volid,
        sizeGb: req.sizeGb,
        createdAt: nowTimestamp(clock),
        runner: runner.name,
      });
      event("workspace.created", record, `workspace ${record.name} created (${record.sizeGb}G on ${storage})`);
      return { workspace: workspaceToProto(record) };
    },
    getWorkspace(req) {
      return { workspace: workspaceToProto(getWorkspace(db, workspaceRefFromSelector(req.workspace))) };
    },
    listWorkspaces(req) {
      const limit = req.pageSize > 0 && req.pageSize <= 1000 ? req.pageSize : 1000;
      const rows = listWorkspaces(db, limit + 1, req.pageToken || undefined);
      const page = rows.slice(0, limit);
      return {
        workspaces: page.map(workspaceToProto),
        nextPageToken: rows.length > limit ? (page.at(-1)?.name ?? "") : "",
      };
    },
    async attachWorkspace(req) {
      const w = getWorkspace(db, workspaceRefFromSelector(req.workspace));
      const sandbox = resolveSandbox(db, sandboxRefFromSelector(req.sandbox));
      if (w.attachedVmid !== null) {
        throw new FailedPreconditionError({
          message: `workspace ${w.name} is already attached to sandbox ${w.attachedVmid}`,
          hint: "detach it first",
        });
      }
      const other = workspaceAttachedTo(db, sandbox.vmid);
      if (other) {
        throw new FailedPreconditionError({
          message: `sandbox ${sandbox.name} already has workspace ${other.name} attached`,
          hint: "detach that one first",
        });
      }
      if (sandbox.state === "DESTROYED")
        throw new FailedPreconditionError({ message: `sandbox ${sandbox.name} is DESTROYED` });
      const runner = deps.runners.get(sandbox.runner);
      await runner.client.attachVolume(
        {
          requestId: `attach-${w.id}-${sandbox.vmid}-${nowTimestamp(clock)}`,
          vmid: sandbox.vmid,
          volid: w.volid,
          slot,
        },
        call(),
      );
      setWorkspaceAttachment(db, w.id, sandbox.vmid, nowTimestamp(clock));
      const updated = getWorkspace(db, { id: w.id });
      event("workspace.attached", updated, `workspace ${w.name} attached to sandbox ${sandbox.vmid}`, sandbox.vmid);
      return { workspace: workspaceToProto(updated) };
    },
    async detachWorkspace(req) {
      const w = getWorkspace(db, workspaceRefFromSelector(req.workspace));
      if (w.attachedVmid === null)
        throw new FailedPreconditionError({ message: `workspace ${w.name} is not attached` });
      const sandbox = resolveSandbox(db, { vmid: w.attachedVmid });
      if (sandbox.state !== "DESTROYED") {
        const runner = deps.runners.get(sandbox.runner);
        await runner.client.detachVolume(
          { requestId: `detach-${w.id}-${sandbox.vmid}-${nowTimestamp(clock)}`, vmid: sandbox.vmid, slot },
          call(),
        );
      }
      setWorkspaceAttachment(db, w.id, null, nowTimestamp(clock));
      const updated = getWorkspace(db, { id: w.id });
      event("workspace.detached", updated, `workspace ${w.name} detached from sandbox ${sandbox.vmid}`, sandbox.vmid);
      return { workspace: workspaceToProto(updated) };
    },
    async deleteWorkspace(req) {
      const w = getWorkspace(db, workspaceRefFromSelector(req.workspace));
      if (w.attachedVmid !== null) {
        throw new FailedPreconditionError({
          message: `workspace ${w.name} is attached to sandbox ${w.attachedVmid}`,
          hint: "detach it first",
        });
      }
      const runner = deps.runners.get(w.runner);
      await runner.client.deleteVolume({ requestId: `delete-volume-${w.id}`, volid: w.volid }, call());
      deleteWorkspaceRow(db, w.id);
      event("workspace.deleted", w, `workspace ${w.name} deleted`);
      return { workspace: workspaceToProto(w) };
    },
  });
}
