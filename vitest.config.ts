import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    setupFiles: ["./src/polyfill.ts"],
    pool: "forks",
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Two cores: e2e files each start several node processes.
    maxWorkers: 2,
    fileParallelism: true,
    // test-output/vitest.json is read by .ci/run for its closing line.
    reporters: ["default", ["json", { outputFile: "test-output/vitest.json" }]],
  },
});
