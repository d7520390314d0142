import { createHash, randomUUID } from "node:crypto";
import { RunnerService } from "@agentlab/api";
import { currentRequestId, DeadlineExceededError, InvalidArgumentError } from "@agentlab/core";
import { type DescMessage, type MessageShape, toBinary } from "@bufbuild/protobuf";
import type { ConnectRouter, HandlerContext } from "@connectrpc/connect";
import type { Backend, CallContext } from "./backend.js";
import { toDomainError } from "./backend-error-mapping.js";
import { RequestIdCache, type RequestIdCacheOptions } from "./request-id-cache.js";
import {
  adoptionHintFromRequest,
  guestAddressToProto,
  infoToProto,
  provisionSpecFromRequest,
  vmToProto,
} from "./runner-proto-mapping.js";

export type RunnerMethod = keyof (typeof RunnerService)["method"];

const MINUTE = 60_000;

/**
 * Deadlines used when the caller sent none. Provisioning (a clone) and waiting for a guest to boot
 * take minutes; everything else is one hypervisor operation.
 */
export const DEFAULT_DEADLINES_MS: Readonly<Record<RunnerMethod, number>> = {
  getInfo: 30_000,
  provisionVm: 10 * MINUTE,
  startVm: 2 * MINUTE,
  stopVm: 2 * MINUTE,
  destroyVm: 5 * MINUTE,
  getVmStatus: 30_000,
  waitGuestIp: 5 * MINUTE,
  listVms: MINUTE,
  createSnapshot: 5 * MINUTE,
  rollbackSnapshot: 5 * MINUTE,
  deleteSnapshot: 5 * MINUTE,
  createVolume: 2 * MINUTE,
  attachVolume: 2 * MINUTE,
  detachVolume: 2 * MINUTE,
  deleteVolume: 2 * MINUTE,
  validateTemplate: MINUTE,
};

export interface RunnerRoutesDeps {
  backend: Backend;
  /** Epoch milliseconds; deadlines and the request-id cache read it. */
  clock?: () => number;
  /** The runner's `--version` line, returned by GetInfo. */
  runnerVersion: string;
  /** Per-RPC deadlines for calls that arrive without one; merged over DEFAULT_DEADLINES_MS. */
  defaultDeadlineMs?: Partial<Record<RunnerMethod, number>>;
  /** Bounds of the idempotency cache. */
  requestIdCache?: Omit<RequestIdCacheOptions, "now">;
}

/**
 * RunnerService: each RPC is one Backend call. The routes own what the backends should not have to:
 * the call context (deadline from the RPC, cancellation), proto conversions, the request-id cache
 * for mutating calls, and the one mapping of backend failures to Connect codes.
 */
export function runnerRoutes(deps: RunnerRoutesDeps): (router: ConnectRouter) => void {
  const now = deps.clock ?? Date.now;
  const backend = deps.backend;
  const deadlines = { ...DEFAULT_DEADLINES_MS, ...deps.defaultDeadlineMs };
  const cache = new RequestIdCache({ ...deps.requestIdCache, now });

  const callContext = (context: HandlerContext, requestId: string, defaultDeadlineMs: number): CallContext => ({
    requestId,
    // Connect hands the handler what is left of the caller's deadline.
    deadline: now() + (context.timeoutMs() ?? defaultDeadlineMs),
    signal: context.signal,
  });

  const call = async <T>(
    method: RunnerMethod,
    context: HandlerContext,
    requestId: string,
    work: (ctx: CallContext) => Promise<T>,
    defaultDeadlineMs = deadlines[method],
  ): Promise<T> => {
    const ctx = callContext(context, requestId, defaultDeadlineMs);
    try {
      return await work(ctx);
    } catch (err) {
      const mapped = toDomainError(err);
      // A backend that gave up because our signal fired past the deadline may throw a plain AbortError.
      if (mapped === err && context.signal.aborted && now() >= ctx.deadline) {
        throw new DeadlineExceededError({ message: `${method} did not finish before its deadline` }, { cause: err });
      }
      throw mapped;
    }
  };

  /** Reads have no request id of their own: the backend logs the transport's x-request-id instead. */
  const read = <T>(method: RunnerMethod, context: HandlerContext, work: (ctx: CallContext) => Promise<T>) =>
    call(method, context, currentRequestId() ?? randomUUID(), work);

  const mutate = <Desc extends DescMessage, T>(
    method: RunnerMethod,
    schema: Desc,
    req: MessageShape<Desc> & { requestId: string },
    context: HandlerContext,
    work: (ctx: CallContext) => Promise<T>,
    defaultDeadlineMs = deadlines[method],
  ): Promise<T> => {
    if (req.requestId === "") {
      throw new InvalidArgumentError({
        message: `request_id is required on ${method}`,
        what: "request_id",
        hint: "send a unique id per request and the same id when retrying it",
      });
    }
    const fingerprint = `${method}:${createHash("sha256").update(toBinary(schema, req)).digest("hex")}`;
    return cache.run(req.requestId, fingerprint, () => call(method, context, req.requestId, work, defaultDeadlineMs));
  };

  return (router) => {
    router.service(RunnerService, {
      getInfo: async (_req, context) =>
        read("getInfo", context, async (ctx) => infoToProto(await backend.info(ctx), deps.runnerVersion)),

      provisionVm: async (req, context) => {
        requireVmid(req.vmid);
        const spec = provisionSpecFromRequest(req);
        return mutate("provisionVm", RunnerService.method.provisionVm.input, req, context, async (ctx) => ({
          vm: vmToProto(await backend.provision(ctx, spec)),
        }));
      },

      startVm: async (req, context) => {
        requireVmid(req.vmid);
        // Without a deadline from the caller, starting and then waiting get the time of both calls.
        const defaultDeadlineMs = deadlines.startVm + (req.waitGuestIp ? deadlines.waitGuestIp : 0);
        return mutate(
          "startVm",
          RunnerService.method.startVm.input,
          req,
          context,
          async (ctx) => {
            await backend.start(ctx, req.vmid);
            if (!req.waitGuestIp) return {};
            return { address: guestAddressToProto(await backend.waitGuestIp(ctx, req.vmid)) };
          },
          defaultDeadlineMs,
        );
      },

      stopVm: async (req, context) => {
        requireVmid(req.vmid);
        const opts = adoptionHintFromRequest(req.vmid, req.adopt);
        return mutate("stopVm", RunnerService.method.stopVm.input, req, context, async (ctx) => {
          await backend.stop(ctx, req.vmid, opts);
          return {};
        });
      },

      destroyVm: async (req, context) => {
        requireVmid(req.vmid);
        const opts = adoptionHintFromRequest(req.vmid, req.adopt);
        return mutate("destroyVm", RunnerService.method.destroyVm.input, req, context, async (ctx) => {
          return { alreadyGone: (await backend.destroy(ctx, req.vmid, opts)) === "already_gone" };
        });
      },

      getVmStatus: async (req, context) => {
        requireVmid(req.vmid);
        return read("getVmStatus", context, async (ctx) => ({ vm: vmToProto(await backend.status(ctx, req.vmid)) }));
      },

      waitGuestIp: async (req, context) => {
        requireVmid(req.vmid);
        return read("waitGuestIp", context, async (ctx) => {
          return guestAddressToProto(await backend.waitGuestIp(ctx, req.vmid));
        });
      },

      listVms: async (req, context) =>
        read("listVms", context, async (ctx) => {
          const vms = await backend.listVms(ctx, { includeForeign: req.includeForeign });
          return { vms: [...vms].sort((a, b) => a.vmid - b.vmid).map(vmToProto) };
        }),

      createSnapshot: async (req, context) => {
        requireVmid(req.vmid);
        return mutate("createSnapshot", RunnerService.method.createSnapshot.input, req, context, async (ctx) => {
          await backend.snapshotCreate(ctx, req.vmid, req.name);
          return {};
        });
      },

      rollbackSnapshot: async (req, context) => {
        requireVmid(req.vmid);
        return mutate("rollbackSnapshot", RunnerService.method.rollbackSnapshot.input, req, context, async (ctx) => {
          await backend.snapshotRollback(ctx, req.vmid, req.name);
          return {};
        });
      },

      deleteSnapshot: async (req, context) => {
        requireVmid(req.vmid);
        return mutate("deleteSnapshot", RunnerService.method.deleteSnapshot.input, req, context, async (ctx) => {
          await backend.snapshotDelete(ctx, req.vmid, req.name);
          return {};
        });
      },

      createVolume: async (req, context) =>
        mutate("createVolume", RunnerService.method.createVolume.input, req, context, async (ctx) => {
          const { volid } = await backend.volumeCreate(ctx, {
            storage: req.storage,
            name: req.name,
            sizeGb: req.sizeGb,
          });
          return { volid };
        }),

      attachVolume: async (req, context) => {
        requireVmid(req.vmid);
        return mutate("attachVolume", RunnerService.method.attachVolume.input, req, context, async (ctx) => {
          await backend.volumeAttach(ctx, req.vmid, req.volid, req.slot);
          return {};
        });
      },

      detachVolume: async (req, context) => {
        requireVmid(req.vmid);
        return mutate("detachVolume", RunnerService.method.detachVolume.input, req, context, async (ctx) => {
          await backend.volumeDetach(ctx, req.vmid, req.slot);
          return {};
        });
      },

      deleteVolume: async (req, context) =>
        mutate("deleteVolume", RunnerService.method.deleteVolume.input, req, context, async (ctx) => {
          await backend.volumeDelete(ctx, req.volid);
          return {};
        }),

      validateTemplate: async (req, context) => {
        requireVmid(req.templateVmid, "template_vmid");
        return read("validateTemplate", context, async (ctx) => {
          const { ok, problems } = await backend.validateTemplate(ctx, req.templateVmid);
          return { ok, problems: [...problems] };
        });
      },
    });
  };
}

/** Proto3 sends 0 for a missing VMID; no hypervisor has VM 0, so say what is wrong before asking one. */
function requireVmid(vmid: number, field = "vmid"): void {
  if (vmid > 0) return;
  throw new InvalidArgumentError({
    message: `${field} must be a positive VMID`,
    what: field,
    value: vmid,
    hint: "control allocates VMIDs from the runner's vmid_range",
  });
}
