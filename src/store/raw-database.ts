import { Level } from "level";

type Raw = Level<Uint8Array, Uint8Array>;

/** Keys and values as raw bytes, as a backup copies them. */
export type RawEntry = [key: Uint8Array, value: Uint8Array];

function openRaw(dir: string): Raw {
  return new Level<Uint8Array, Uint8Array>(dir, { keyEncoding: "view", valueEncoding: "view" });
}

/**
 * A new LevelDB written key by key as raw bytes: the copy a backup makes of a
 * node database (NodeDatabase.rawIterator()), not a node database itself.
 */
export class RawDatabaseWriter {
  private constructor(private readonly db: Raw) {}

  /** Creates the database at `dir`; refuses one that exists. */
  static async create(dir: string): Promise<RawDatabaseWriter> {
    const db = openRaw(dir);
    await db.open({ createIfMissing: true, errorIfExists: true });
    return new RawDatabaseWriter(db);
  }

  async put(entries: readonly RawEntry[]): Promise<void> {
    await this.db.batch(entries.map(([key, value]) => ({ type: "put" as const, key, value })));
  }

  close(): Promise<void> {
    return this.db.close();
  }
}

/** Calls `visit` with every entry of the closed database at `dir`, in key order. */
export async function forEachRawEntry(dir: string, visit: (key: Uint8Array, value: Uint8Array) => void): Promise<void> {
  const db = openRaw(dir);
  await db.open({ createIfMissing: false });
  try {
    for await (const [key, value] of db.iterator()) visit(key, value);
  } finally {
    await db.close();
  }
}

/**
 * "locked" when another process holds the database at `dir` open,
 * "unreadable" when it does not open (corrupt, half deleted), else "free".
 */
export async function databaseLockState(dir: string): Promise<"locked" | "unreadable" | "free"> {
  const db = openRaw(dir);
  try {
    await db.open({ createIfMissing: false });
  } catch (cause) {
    return (cause as { cause?: { code?: string } }).cause?.code === "LEVEL_LOCKED" ? "locked" : "unreadable";
  }
  await db.close();
  return "free";
}
