#!/usr/bin/env node
// Runs the compiled CLI (`npm install` builds dist/; `npm run build` after editing src/).
import { existsSync } from "node:fs";

const main = new URL("../dist/cli/main.js", import.meta.url);
if (!existsSync(main)) {
  process.stderr.write("creditmesh: dist/ is missing; run `npm install` or `npm run build` in the package directory\n");
  process.exit(2);
}
await import(main.href);
