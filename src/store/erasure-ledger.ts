import { closeSync, existsSync, fsyncSync, openSync, readFileSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import { fsyncPath } from "../fs-sync.js";

/** One erasure on request: pseudonymous, like the audit trail's SUBJECT_PURGED entry. */
export interface Erasure {
  subjectToken: string;
  requestRef: string;
  /** ISO time the erasure was requested at this node. */
  at: string;
}

/**
 * The subjects erased on request, kept beside the database rather than in it
 * (one JSON line each): a backup taken before an erasure still holds the
 * subject, and restore re-applies from here every erasure recorded after the
 * backup was taken. An entry is written (and synced) before the purge runs, so
 * an erasure that was acknowledged is always in it.
 */
export class ErasureLedger {
  constructor(readonly file: string) {}

  append(e: Erasure): void {
    const created = !existsSync(this.file);
    const fd = openSync(this.file, "a", 0o600);
    try {
      writeSync(fd, JSON.stringify(e) + "\n");
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    if (created) fsyncPath(dirname(this.file));
  }

  /** Every entry, oldest first; a line cut short by a crash is skipped. */
  read(): Erasure[] {
    if (!existsSync(this.file)) return [];
    const out: Erasure[] = [];
    for (const line of readFileSync(this.file, "utf8").split("\n")) {
      if (line.trim() === "") continue;
      try {
        const e = JSON.parse(line) as Partial<Erasure>;
        if (typeof e.subjectToken === "string" && typeof e.requestRef === "string" && typeof e.at === "string") {
          out.push({ subjectToken: e.subjectToken, requestRef: e.requestRef, at: e.at });
        }
      } catch {
        // a torn last line: its purge had not started
      }
    }
    return out;
  }
}
