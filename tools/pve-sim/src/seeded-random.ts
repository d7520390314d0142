/** A small seeded PRNG (mulberry32) so fault probabilities, MACs and PIDs repeat run to run. */
export type RandomSource = () => number;

export function createSeededRandom(seed: number): RandomSource {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomHexByte(random: RandomSource): string {
  return Math.floor(random() * 256)
    .toString(16)
    .padStart(2, "0")
    .toUpperCase();
}

/** A MAC in Proxmox's own OUI (BC:24:11), as PVE generates for new NICs. */
export function randomMac(random: RandomSource): string {
  return ["BC", "24", "11", randomHexByte(random), randomHexByte(random), randomHexByte(random)].join(":");
}

export function randomUuid(random: RandomSource): string {
  const hex = Array.from({ length: 16 }, () => randomHexByte(random).toLowerCase()).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}
