import { watch } from "node:fs";
import { basename, dirname } from "node:path";

/**
 * Calls `onChange` (at most once per `settleMs`) after `file` is written or
 * replaced; returns the function that stops watching.
 *
 * It watches the file's directory, not the file: our own writers and most
 * tools replace a file atomically (temp file + rename), which a watch on the
 * old inode never sees. Stat polling (fs.watchFile) is no better: its first
 * stat is taken asynchronously, so a change made right after it starts can
 * become its baseline and never be reported.
 */
export function watchFileChanges(
  file: string,
  onChange: () => void,
  opts: { settleMs?: number; onError?: (err: Error) => void } = {},
): () => void {
  const name = basename(file);
  let timer: NodeJS.Timeout | undefined;
  const watcher = watch(dirname(file), { persistent: false }, (_event, changed) => {
    // Some platforms do not report the name; then any entry may be ours.
    if (changed !== null && changed !== name) return;
    if (timer) return;
    timer = setTimeout(() => {
      timer = undefined;
      onChange();
    }, opts.settleMs ?? 25);
  });
  watcher.on("error", (err) => opts.onError?.(err));
  return () => {
    clearTimeout(timer);
    timer = undefined;
    watcher.close();
  };
}
