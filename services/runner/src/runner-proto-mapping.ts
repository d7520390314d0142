import {
  type AdoptionHint as AdoptionHintMessage,
  type GetInfoResponseSchema,
  type ProvisionVmRequest,
  VmPowerState,
  type VmSchema,
} from "@agentlab/api";
import { InvalidArgumentError } from "@agentlab/core";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type {
  AdoptionHint,
  BackendInfo,
  VmPowerState as BackendPowerState,
  GuestAddress,
  ProvisionSpec,
  VmInfo,
} from "./backend.js";

/** Conversions between the RunnerService messages and the Backend's types, both ways where needed. */

const TO_PROTO_STATE: Record<BackendPowerState, VmPowerState> = {
  running: VmPowerState.RUNNING,
  stopped: VmPowerState.STOPPED,
  paused: VmPowerState.PAUSED,
  unknown: VmPowerState.UNKNOWN,
};

export function powerStateToProto(state: BackendPowerState): VmPowerState {
  return TO_PROTO_STATE[state] ?? VmPowerState.UNKNOWN;
}

/** For clients of the runner (control): UNSPECIFIED means the runner did not say, i.e. unknown. */
export function powerStateFromProto(state: VmPowerState): BackendPowerState {
  switch (state) {
    case VmPowerState.RUNNING:
      return "running";
    case VmPowerState.STOPPED:
      return "stopped";
    case VmPowerState.PAUSED:
      return "paused";
    default:
      return "unknown";
  }
}

const INT32_MAX = 2 ** 31 - 1;

/** Capacity figures are int32 on the wire; a larger host is reported as the largest value. */
function int32(value: number): number {
  return Math.max(0, Math.min(INT32_MAX, Math.trunc(value)));
}

export function vmToProto(vm: VmInfo): MessageInitShape<typeof VmSchema> {
  return {
    vmid: vm.vmid,
    name: vm.name,
    state: powerStateToProto(vm.state),
    owned: vm.owned,
    tags: [...vm.tags],
    lock: vm.lock ?? "",
  };
}

/** The fields of both GuestAddress and WaitGuestIpResponse. */
export function guestAddressToProto(address: GuestAddress): { ipv4: string; ipv6: string; mac: string } {
  return { ipv4: address.ipv4 ?? "", ipv6: address.ipv6 ?? "", mac: address.mac ?? "" };
}

export function infoToProto(info: BackendInfo, runnerVersion: string): MessageInitShape<typeof GetInfoResponseSchema> {
  return {
    backendKind: info.kind,
    node: info.node,
    hypervisorVersion: info.version,
    runnerVersion,
    capacity: {
      cores: int32(info.capacity.cores),
      memoryMb: int32(info.capacity.memoryMb),
      runningVms: int32(info.capacity.runningVms),
      maxVms: int32(info.capacity.maxVms),
    },
  };
}

/** Proto3 has no "absent" for scalars: 0 and "" mean "keep the template's" / "not set". */
function positive(value: number): number | undefined {
  return value > 0 ? value : undefined;
}
function nonEmpty(value: string): string | undefined {
  return value === "" ? undefined : value;
}

export function provisionSpecFromRequest(req: ProvisionVmRequest): ProvisionSpec {
  const network = req.network;
  const localMode = nonEmpty(network?.localMode ?? "");
  if (localMode !== undefined && localMode !== "none" && localMode !== "host") {
    throw new InvalidArgumentError({
      message: "network.local_mode is not supported",
      what: "network.local_mode",
      value: localMode,
      hint: 'use "none" (loopback only) or "host"',
    });
  }
  const templateVmid = positive(req.templateVmid);
  const cores = positive(req.cores);
  const memoryMb = positive(req.memoryMb);
  const rootSizeGb = positive(req.rootSizeGb);
  const bridge = nonEmpty(network?.bridge ?? "");
  const model = nonEmpty(network?.model ?? "");
  const firewallGroup = nonEmpty(network?.firewallGroup ?? "");
  const description = nonEmpty(req.description);
  const readOnlyPaths = req.readOnlyPaths.filter((p) => p !== "");
  return {
    vmid: req.vmid,
    name: req.name,
    ...(templateVmid !== undefined && { templateVmid }),
    ...(readOnlyPaths.length > 0 && { readOnlyPaths }),
    ...(cores !== undefined && { cores }),
    ...(memoryMb !== undefined && { memoryMb }),
    network: {
      ...(bridge !== undefined && { bridge }),
      ...(model !== undefined && { model }),
      ...(firewallGroup !== undefined && { firewallGroup }),
      ...(network?.firewall !== undefined && { firewall: network.firewall }),
      ...(localMode !== undefined && { localMode }),
    },
    ...(rootSizeGb !== undefined && { rootSizeGb }),
    bootstrapJson: req.bootstrapJson,
    ownerTag: req.ownerTag,
    ...(description !== undefined && { description }),
  };
}

/** The backend's hint carries the VMID as well: the backend acts only when VMID and name both match. */
export function adoptionHintFromRequest(
  vmid: number,
  adopt: AdoptionHintMessage | undefined,
): { adopt: AdoptionHint } | undefined {
  if (adopt === undefined) return undefined;
  if (adopt.name === "") {
    throw new InvalidArgumentError({
      message: "adopt.name is empty",
      what: "adopt.name",
      hint: "name the VM as control recorded it, or leave adopt unset",
    });
  }
  return { adopt: { vmid, name: adopt.name } };
}
