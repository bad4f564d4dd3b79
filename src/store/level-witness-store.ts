import { CreditMeshError } from "../errors.js";
import { parseCheckpoint } from "../tlog/checkpoint.js";
import type { WitnessStore } from "../tlog/witness-store.js";
import type { EvidenceKind, WitnessedCheckpoint } from "../tlog/witness.js";
import type { NodeDatabase } from "./database.js";
import { keyPart, lastPart, SEP, under } from "./keys.js";
import { KeyedSerialQueue } from "./serial.js";

/**
 * The `witness` sublevel:
 *
 * - `c!<origin>`                       → the log's last cosigned checkpoint note
 * - `e!<ISO time>!<seq>!<origin>`      → a signed evidence note, kept for good
 * - `k!<origin>!<kind>`                → the `e!` key of the evidence held of that kind against that log
 *
 * Databases written before `k!` existed may hold several `e!` notes of one
 * kind against one log; they are still read, and the next note of that kind
 * is then the last one stored.
 */
const LAST = "c";
const EVIDENCE = "e";
const HELD = "k";

export class LevelWitnessStore implements WitnessStore {
  private seq = 0;
  // The check for evidence already held and the write must not interleave, or two notes would both be stored.
  private readonly held = new KeyedSerialQueue();

  constructor(private readonly db: NodeDatabase) {}

  async last(origin: string): Promise<WitnessedCheckpoint | undefined> {
    const key = LAST + SEP + keyPart("origin", origin);
    const note = await this.db.levels.witness.get(key);
    if (note === undefined) return undefined;
    let size: number;
    let root: Uint8Array;
    try {
      ({ size, root } = parseCheckpoint(note.slice(0, note.lastIndexOf("\n\n") + 1)));
    } catch (err) {
      throw new CreditMeshError("STORE_CORRUPT", `witnessed checkpoint at ${JSON.stringify(key)} does not parse`, { cause: err });
    }
    return { note, size, root };
  }

  async cosigned(origin: string, state: WitnessedCheckpoint): Promise<void> {
    await this.db.write([{ type: "put", sublevel: this.db.levels.witness, key: LAST + SEP + keyPart("origin", origin), value: state.note }]);
  }

  async addEvidence(origin: string, kind: EvidenceKind, observedAt: Date, signedEvidence: string): Promise<boolean> {
    if (!(observedAt instanceof Date) || Number.isNaN(observedAt.getTime())) {
      throw new CreditMeshError("VALIDATION_FAILED", "observed_at: must be a valid time", { field: "observed_at" });
    }
    const heldKey = [HELD, keyPart("origin", origin), keyPart("kind", kind)].join(SEP);
    return this.held.run(heldKey, async () => {
      if ((await this.db.levels.witness.get(heldKey)) !== undefined) return false;
      // The sequence keeps two findings of the same millisecond apart.
      const seq = String(this.seq++).padStart(6, "0");
      const key = [EVIDENCE, observedAt.toISOString(), seq, origin].join(SEP);
      await this.db.write([
        { type: "put", sublevel: this.db.levels.witness, key, value: signedEvidence },
        { type: "put", sublevel: this.db.levels.witness, key: heldKey, value: key },
      ]);
      return true;
    });
  }

  async evidence(): Promise<{ origin: string; observedAt: string; note: string }[]> {
    const rows = await this.db.entries(this.db.levels.witness, under(EVIDENCE));
    return rows.map(([key, note]) => ({ origin: lastPart(key), observedAt: key.split(SEP)[1]!, note }));
  }
}
