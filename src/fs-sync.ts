import { closeSync, fsyncSync, openSync } from "node:fs";

/** Flushes a file, or a directory's entries, to disk. */
export function fsyncPath(p: string): void {
  const fd = openSync(p, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
