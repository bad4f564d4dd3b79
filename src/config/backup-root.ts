import { existsSync, realpathSync } from "node:fs";
import path from "node:path";
import { invalid } from "../errors.js";

/** The nearest existing ancestor of `p` with symlinks resolved, and the rest of the path below it. */
function realish(p: string): string {
  let existing = p;
  const rest: string[] = [];
  while (!existsSync(existing)) {
    rest.unshift(path.basename(existing));
    const parent = path.dirname(existing);
    if (parent === existing) break;
    existing = parent;
  }
  return path.join(existsSync(existing) ? realpathSync(existing) : existing, ...rest);
}

/**
 * Resolves a backup directory given over the API against the configured
 * backup root and refuses one outside it (`../../..`, an absolute path
 * elsewhere, or a symlink inside the root pointing out): an OPERATOR key
 * must not be able to write a copy of the database anywhere the node can.
 */
export function backupDirUnder(root: string, outDir: string, field = "out_dir"): string {
  if (outDir.includes("\0")) throw invalid(field, "must not contain NUL characters");
  const realRoot = realish(path.resolve(root));
  const dir = realish(path.resolve(realRoot, outDir));
  const rel = path.relative(realRoot, dir);
  if (rel === "" || rel.startsWith("..") || path.isAbsolute(rel)) {
    throw invalid(field, `must be a new directory inside the backup root ${realRoot} (storage.backupRoot), got one outside it`);
  }
  return dir;
}
