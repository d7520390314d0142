import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: [
      "{packages,services,clients,guest,tools,bench}/*/{src,test}/**/*.test.ts",
      "bench/{src,test}/**/*.test.ts",
      "test/**/*.test.ts",
    ],
    environment: "node",
    // Native addons (better-sqlite3), http2 servers and namespaces are happiest in child processes.
    pool: "forks",
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // End-to-end tests spawn the bundled binaries: build them once, fresh, before any test runs.
    globalSetup: ["scripts/vitest-global-setup.ts"],
  },
});
