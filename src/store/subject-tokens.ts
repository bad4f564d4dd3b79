import type { NodeDatabase } from "./database.js";
import { AFTER_SEP, SEP } from "./keys.js";

/**
 * Every subject token the subject index holds anything for — accounts or
 * inquiries — once each, in key order: what this node's published filter
 * must contain, since a holder of only an inquiry is still asked for it
 * (the multi-lending signals count inquiries). Seeks past each subject's
 * entries rather than reading them.
 */
export async function* subjectTokens(db: Pick<NodeDatabase, "levels">, signal?: AbortSignal): AsyncGenerator<string> {
  const keys = db.levels.subj.keys();
  try {
    for (;;) {
      signal?.throwIfAborted();
      const key = await keys.next();
      if (key === undefined) return;
      const at = key.indexOf(SEP);
      const token = at < 0 ? key : key.slice(0, at);
      yield token;
      keys.seek(token + AFTER_SEP);
    }
  } finally {
    await keys.close();
  }
}
