import { BlockList, isIP } from "node:net";

/**
 * Which source addresses may use a guest listener: inside one of the configured CIDRs (IPv4 or
 * IPv6). IPv4-mapped IPv6 sources (`::ffff:10.77.0.5`, what a dual-stack socket reports) are
 * compared as the IPv4 address they are.
 */
export class SubnetGuard {
  private readonly allowed = new BlockList();

  constructor(readonly cidrs: readonly string[]) {
    for (const cidr of cidrs) {
      const [address = "", prefixText = "", extra] = cidr.trim().split("/");
      const family = isIP(address);
      const prefix = Number(prefixText);
      const valid =
        family !== 0 && extra === undefined && /^\d{1,3}$/.test(prefixText) && prefix <= (family === 4 ? 32 : 128);
      if (!valid) {
        throw new Error(
          `agent_subnet ${JSON.stringify(cidr)} is not a CIDR block; write it like 10.77.0.0/16 or fd00::/64`,
        );
      }
      this.allowed.addSubnet(address, prefix, family === 4 ? "ipv4" : "ipv6");
    }
  }

  allows(source: string | undefined): boolean {
    if (!source) return false;
    const address = unmapIpv4(source);
    const family = isIP(address);
    if (family === 0) return false;
    return this.allowed.check(address, family === 4 ? "ipv4" : "ipv6");
  }
}

/** `::ffff:1.2.3.4` → `1.2.3.4`; anything else unchanged. */
export function unmapIpv4(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return mapped?.[1] ?? address;
}
