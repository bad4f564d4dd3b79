import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    setupFiles: ["./src/polyfill.ts"],
    pool: "forks",
    // Two cores: e2e files each start several node processes.
    maxWorkers: 2,
    fileParallelism: true,
    // One run of both projects writes one JSON file: .ci/run reads test-output/vitest.json
    // for its closing line. hanging-process names whatever keeps a worker alive after its
    // tests (a node process or socket an e2e test failed to close).
    reporters: ["default", "hanging-process", ["json", { outputFile: "test-output/vitest.json" }]],
    projects: [
      {
        extends: true,
        test: {
          name: "unit",
          include: ["test/unit/**/*.test.ts"],
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
      {
        extends: true,
        test: {
          name: "e2e",
          include: ["test/e2e/**/*.test.ts"],
          // Node processes run the compiled dist/: bring it up to date with src/ first.
          globalSetup: ["./test/helpers/build-dist.ts"],
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
