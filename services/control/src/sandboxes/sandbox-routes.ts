/** SandboxService over the sandbox lifecycle and the reconciler. */
import { SandboxService } from "@agentlab/api";
import { InvalidArgumentError } from "@agentlab/core";
import type { ConnectRouter } from "@connectrpc/connect";
import type { SqliteDatabase } from "../db/open-database.js";
import type { SandboxReconciler } from "../loops/sandbox-reconciler.js";
import type { SandboxLifecycle } from "./sandbox-lifecycle.js";
import { sandboxRefFromSelector, sandboxStateFromProto, sandboxToProto } from "./sandbox-proto.js";
import type { SandboxRecord } from "./sandbox-record.js";
import { jobIdOfSandbox, listSandboxes, resolveSandbox } from "./sandbox-store.js";

export interface SandboxRoutesDeps {
  db: SqliteDatabase;
  lifecycle: SandboxLifecycle;
  reconciler: SandboxReconciler;
}

const MAX_PAGE = 1000;

function encodePageToken(s: SandboxRecord): string {
  return Buffer.from(JSON.stringify({ c: s.createdAt, v: s.vmid })).toString("base64url");
}

function decodePageToken(token: string): { createdAt: string; vmid: number } | undefined {
  if (!token) return undefined;
  try {
    const { c, v } = JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as { c: unknown; v: unknown };
    if (typeof c === "string" && typeof v === "number") return { createdAt: c, vmid: v };
  } catch {
    // fall through to the error below
  }
  throw new InvalidArgumentError({
    message: "invalid page_token",
    hint: "pass next_page_token from the previous response unchanged",
  });
}

export function registerSandboxRoutes(router: ConnectRouter, deps: SandboxRoutesDeps): void {
  const { db, lifecycle } = deps;
  const proto = (s: SandboxRecord) => sandboxToProto(s, jobIdOfSandbox(db, s.vmid));

  router.service(SandboxService, {
    async createSandbox(req) {
      if (!req.profile)
        throw new InvalidArgumentError({
          message: "profile is required",
          hint: "list profiles with `agentlab profile list`",
        });
      const sandbox = await lifecycle.create({
        profile: req.profile,
        name: req.name,
        ...(req.ttlMinutes !== undefined ? { ttlMinutes: req.ttlMinutes } : {}),
        ...(req.keepalive !== undefined ? { keepalive: req.keepalive } : {}),
        ...(req.workspace ? { workspaceId: req.workspace } : {}),
        ...(req.idempotencyKey ? { requestId: `sandbox:${req.idempotencyKey}` } : {}),
        wait: req.wait ?? true,
      });
      return { sandbox: proto(sandbox) };
    },
    getSandbox(req) {
      return { sandbox: proto(lookup(db, req.sandbox)) };
    },
    listSandboxes(req) {
      if (req.pageSize < 0 || req.pageSize > MAX_PAGE) {
        throw new InvalidArgumentError({
          message: `page_size ${req.pageSize} is out of range`,
          hint: `use 1..${MAX_PAGE}`,
        });
      }
      const limit = req.pageSize || MAX_PAGE;
      const after = decodePageToken(req.pageToken);
      const rows = listSandboxes(db, {
        states: req.states.map(sandboxStateFromProto),
        ...(req.profile ? { profile: req.profile } : {}),
        includeDestroyed: req.includeDestroyed,
        limit: limit + 1,
        ...(after ? { after } : {}),
      });
      const page = rows.slice(0, limit);
      const last = page.at(-1);
      return { sandboxes: page.map(proto), nextPageToken: rows.length > limit && last ? encodePageToken(last) : "" };
    },
    async destroySandbox(req) {
      const s = await lifecycle.destroy(sandboxRefFromSelector(req.sandbox), { force: req.force, reason: req.reason });
      return { sandbox: proto(s) };
    },
    async startSandbox(req) {
      return { sandbox: proto(await lifecycle.start(sandboxRefFromSelector(req.sandbox))) };
    },
    async stopSandbox(req) {
      return { sandbox: proto(await lifecycle.stop(sandboxRefFromSelector(req.sandbox))) };
    },
    renewLease(req) {
      return { sandbox: proto(lifecycle.renewLease(sandboxRefFromSelector(req.sandbox), req.ttlMinutes)) };
    },
    async pruneSandboxes(req) {
      const vmids = await lifecycle.prune(req.dryRun);
      return { count: vmids.length, vmids };
    },
    async reconcileSandboxes(req) {
      return deps.reconciler.sweep({ dryRun: req.dryRun });
    },
  });
}

function lookup(db: SqliteDatabase, selector: Parameters<typeof sandboxRefFromSelector>[0]): SandboxRecord {
  return resolveSandbox(db, sandboxRefFromSelector(selector));
}
