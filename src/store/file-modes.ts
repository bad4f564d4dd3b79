import { chmodSync, existsSync, mkdirSync, readdirSync, statSync } from "node:fs";
import path from "node:path";

/** Owner-only: the database holds sealed identities, tokens, consents and the audit trail. */
const DIR_MODE = 0o700;
const FILE_MODE = 0o600;

/**
 * Makes the data directory and the database owner-only before the database
 * opens: sets the process umask to 077, so that every file LevelDB creates
 * from now on (tables, logs, MANIFEST) is 600 and every directory 700, and
 * tightens what an earlier version left group- or world-readable.
 */
export function secureDataDir(dataDir: string, dbDir: string): void {
  process.umask(0o077);
  mkdirSync(dataDir, { recursive: true, mode: DIR_MODE });
  tighten(dataDir, DIR_MODE);
  if (!existsSync(dbDir)) return;
  tighten(dbDir, DIR_MODE);
  for (const name of readdirSync(dbDir)) {
    const file = path.join(dbDir, name);
    if (statSync(file).isFile()) tighten(file, FILE_MODE);
  }
}

function tighten(p: string, mode: number): void {
  if ((statSync(p).mode & 0o777) !== mode) chmodSync(p, mode);
}
