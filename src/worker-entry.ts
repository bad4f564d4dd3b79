import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";

/**
 * The URL to start a worker thread on `module`. Run from TypeScript sources
 * (tests, tsx), a worker does not inherit the TypeScript loader, so it is
 * started on a tiny module that registers the loader and then imports the
 * real one; compiled, the module is used as is.
 */
export function workerEntry(module: URL): URL {
  if (!module.pathname.endsWith(".ts")) return module;
  const api = pathToFileURL(createRequire(import.meta.url).resolve("tsx/esm/api").replace(/\.cjs$/, ".mjs")).href;
  const code = `import { register } from ${JSON.stringify(api)}; register(); await import(${JSON.stringify(module.href)});`;
  return new URL(`data:text/javascript,${encodeURIComponent(code)}`);
}
