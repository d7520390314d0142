import { isIP } from "node:net";

/** A `host:port` listen address split apart; IPv6 hosts are written `[::1]:8844`. */
export interface HostPort {
  host: string;
  port: number;
}

export function parseHostPort(text: string): HostPort | undefined {
  const bracketed = /^\[([^\]]+)\]:(\d{1,5})$/.exec(text);
  const plain = /^([^:[\]]*):(\d{1,5})$/.exec(text);
  const match = bracketed ?? plain;
  if (!match) return undefined;
  const host = match[1] ?? "";
  const port = Number(match[2]);
  if (port > 65535) return undefined;
  if (bracketed && isIP(host) !== 6) return undefined;
  return { host, port };
}

/** `host:port` with brackets around IPv6 hosts, as URLs need it. */
export function formatHostPort({ host, port }: HostPort): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}

/** An empty host, `0.0.0.0` or `::` binds every interface. */
export function isWildcardHost(host: string): boolean {
  return host === "" || host === "0.0.0.0" || host === "::" || host === "[::]";
}

export function isLoopbackHost(host: string): boolean {
  if (host === "localhost") return true;
  if (isIP(host) === 4) return host.startsWith("127.");
  if (isIP(host) === 6) return expandIpv6(host)?.every((g, i) => g === (i === 7 ? 1 : 0)) ?? false;
  return false;
}

/** A CIDR block such as `10.77.0.0/16` or `fd00::/64`. */
export interface Cidr {
  family: 4 | 6;
  /** Address bytes, network bits only. */
  bytes: number[];
  prefix: number;
}

export function parseCidr(text: string): Cidr | undefined {
  const [address, prefixText, extra] = text.split("/");
  if (address === undefined || prefixText === undefined || extra !== undefined) return undefined;
  if (!/^\d{1,3}$/.test(prefixText)) return undefined;
  const bytes = addressBytes(address);
  if (!bytes) return undefined;
  const family = bytes.length === 4 ? 4 : 6;
  const prefix = Number(prefixText);
  if (prefix > bytes.length * 8) return undefined;
  return { family, bytes: maskBytes(bytes, prefix), prefix };
}

export function formatCidr(cidr: Cidr): string {
  if (cidr.family === 4) return `${cidr.bytes.join(".")}/${cidr.prefix}`;
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((((cidr.bytes[i] ?? 0) << 8) | (cidr.bytes[i + 1] ?? 0)).toString(16));
  return `${compressIpv6(groups)}/${cidr.prefix}`;
}

/** The subnet guests live in when `agent_subnet` is not set: /16 around an IPv4 host, /64 around IPv6. */
export function deriveSubnet(host: string): Cidr | undefined {
  const bytes = addressBytes(host);
  if (!bytes) return undefined;
  const prefix = bytes.length === 4 ? 16 : 64;
  return { family: bytes.length === 4 ? 4 : 6, bytes: maskBytes(bytes, prefix), prefix };
}

function addressBytes(address: string): number[] | undefined {
  if (isIP(address) === 4) return address.split(".").map(Number);
  const groups = expandIpv6(address);
  return groups?.flatMap((g) => [g >> 8, g & 0xff]);
}

function maskBytes(bytes: number[], prefix: number): number[] {
  return bytes.map((b, i) => {
    const bits = Math.max(0, Math.min(8, prefix - i * 8));
    return b & ((0xff << (8 - bits)) & 0xff);
  });
}

function expandIpv6(address: string): number[] | undefined {
  const bare = address.replace(/^\[|\]$/g, "");
  if (isIP(bare) !== 6) return undefined;
  let text = bare;
  // An embedded IPv4 tail (::ffff:1.2.3.4) becomes two hex groups.
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4?.[1]) {
    const [a, b, c, d] = v4[1].split(".").map(Number) as [number, number, number, number];
    text = text.slice(0, -v4[1].length) + `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = "", tail] = text.split("::");
  const headGroups = head ? head.split(":") : [];
  const tailGroups = tail ? tail.split(":") : [];
  const missing = 8 - headGroups.length - tailGroups.length;
  const groups = [...headGroups, ...Array<string>(tail === undefined ? 0 : missing).fill("0"), ...tailGroups];
  return groups.length === 8 ? groups.map((g) => Number.parseInt(g, 16)) : undefined;
}

function compressIpv6(groups: string[]): string {
  // Replace the longest run of zero groups with "::" (RFC 5952).
  let bestStart = -1;
  let bestLength = 0;
  for (let i = 0; i < groups.length; ) {
    if (groups[i] !== "0") {
      i++;
      continue;
    }
    let j = i;
    while (j < groups.length && groups[j] === "0") j++;
    if (j - i > bestLength && j - i > 1) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  if (bestStart < 0) return groups.join(":");
  return `${groups.slice(0, bestStart).join(":")}::${groups.slice(bestStart + bestLength).join(":")}`;
}
