import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";

/**
 * vitest globalSetup of the e2e project: the node processes the tests start
 * run dist/, so it is rebuilt from src/ (incrementally) before any test runs,
 * whichever way vitest was started. A stale dist/ is never what gets tested.
 */
export default function setup(): void {
  const root = fileURLToPath(new URL("../..", import.meta.url));
  execFileSync(process.execPath, ["scripts/build.mjs"], { cwd: root, stdio: "inherit" });
}
