// Compiles src/ (generated code included) to dist/ and copies what the compiled
// code reads next to itself. Plain JavaScript: it runs at `npm install` time.
import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
if (!existsSync(new URL("../src/gen/descriptor.binpb", import.meta.url))) {
  process.stderr.write("build: src/gen is missing; run `npm run gen` first\n");
  process.exit(1);
}
try {
  execFileSync(process.execPath, [tsc, "-p", "tsconfig.build.json"], { cwd: root, stdio: "inherit" });
} catch {
  process.exit(1);
}
copyFileSync(new URL("../src/gen/descriptor.binpb", import.meta.url), new URL("../dist/gen/descriptor.binpb", import.meta.url));
