import { createHmac } from "node:crypto";
import { CreditMeshError } from "../errors.js";
import type { ShareVault, StoredShare } from "../subject/oprf/dkg-participant.js";
import { decodeKeyShare, encodeKeyShare, publicShareOf } from "../subject/oprf/threshold.js";
import { DataCipher } from "./cipher.js";
import type { NodeDatabase } from "./database.js";

const EPOCH_DIGITS = 16;
const SEP = "!";

/**
 * This member's shares of the subject-token key (`tshare!<epoch>!<public
 * share>` → sealed share), one per ceremony it finished: a share is in force
 * only once a manifest names its public share at its epoch, and shares of
 * earlier epochs are deleted once a later committee is in force.
 *
 * Sealed under a key derived from the node key rather than the data keys: a
 * data-key rotation does not re-seal these, and a retired data key would
 * otherwise take the evaluator's share with it.
 */
export class LevelTokenShares implements ShareVault {
  readonly #cipher: DataCipher;

  constructor(
    private readonly db: NodeDatabase,
    nodeKeySeed: Uint8Array,
  ) {
    const key = createHmac("sha256", nodeKeySeed).update("creditmesh token key share sealing v1").digest();
    this.#cipher = new DataCipher([{ id: "tshare-v1", key }]);
  }

  static key(epoch: number, publicShareHex: string): string {
    return String(epoch).padStart(EPOCH_DIGITS, "0") + SEP + publicShareHex;
  }

  async put(entry: StoredShare): Promise<void> {
    const pub = Buffer.from(publicShareOf(entry.share).bytes).toString("hex");
    const key = LevelTokenShares.key(entry.epoch, pub);
    const value = JSON.stringify({ sessionId: entry.sessionId, publicKey: entry.publicKey, share: Buffer.from(encodeKeyShare(entry.share)).toString("hex") });
    await this.db.write([{ type: "put", sublevel: this.db.levels.tshare, key, value: this.#cipher.seal(Buffer.from(value, "utf8"), Buffer.from(key, "utf8")) }]);
  }

  /** The share made for the committee of `epoch` whose public share is `publicShareHex`, if this member holds it. */
  async find(epoch: number, publicShareHex: string): Promise<StoredShare | undefined> {
    const key = LevelTokenShares.key(epoch, publicShareHex);
    const sealed = await this.db.levels.tshare.get(key);
    if (sealed === undefined) return undefined;
    const v = JSON.parse(Buffer.from(this.#cipher.open(sealed, Buffer.from(key, "utf8"))).toString("utf8")) as { sessionId: string; publicKey: string; share: string };
    const share = decodeKeyShare(Buffer.from(v.share, "hex"), `tshare ${key}`);
    if (Buffer.from(publicShareOf(share).bytes).toString("hex") !== publicShareHex) {
      throw new CreditMeshError("STORE_CORRUPT", `token key share at epoch ${epoch} does not match its key`);
    }
    return { epoch, sessionId: v.sessionId, publicKey: v.publicKey, share };
  }

  /** Deletes every share of an epoch before `epoch`: once a later committee is in force they only add risk. */
  async retireBefore(epoch: number): Promise<number> {
    const level = this.db.levels.tshare;
    const keys = await level.keys({ lt: String(epoch).padStart(EPOCH_DIGITS, "0") + SEP }).all();
    await this.db.write(keys.map((key) => ({ type: "del" as const, sublevel: level, key })));
    return keys.length;
  }

  /** Epochs with a stored share (for status and tests). */
  async epochs(): Promise<number[]> {
    const keys = await this.db.levels.tshare.keys().all();
    return [...new Set(keys.map((k) => Number(k.split(SEP)[0])))];
  }
}
