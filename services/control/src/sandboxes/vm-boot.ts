import type { RunnerService } from "@agentlab/api";
import type { Client } from "@connectrpc/connect";
import { untilDeadline } from "./runner-call.js";

/**
 * Starts a sandbox's VM and learns its guest's address by `deadline` (epoch ms): one StartVm call
 * with wait_guest_ip, so a boot costs one round trip to the runner, not a StartVm and then a
 * WaitGuestIp. A runner older than that field answers without an address; it is then asked with
 * WaitGuestIp, as before, so control can be upgraded ahead of its runners. Resolves with the IPv4,
 * or the IPv6 when the guest has no IPv4.
 */
export async function bootVm(
  client: Client<typeof RunnerService>,
  request: { requestId: string; vmid: number },
  deadline: number,
  now: () => number,
  signal?: AbortSignal,
): Promise<string> {
  const started = await client.startVm({ ...request, waitGuestIp: true }, untilDeadline(deadline, now(), signal));
  const address =
    started.address ?? (await client.waitGuestIp({ vmid: request.vmid }, untilDeadline(deadline, now(), signal)));
  return address.ipv4 || address.ipv6;
}
