// Rebuilds the binaries before the suite so that tests spawning them never run a stale bundle.
export default async function setup(): Promise<void> {
  // @ts-expect-error: plain JS build script without type declarations.
  const { build } = await import("./build.mjs");
  await build();
}
