import { Consent, Revocation } from "../gen/creditmesh/v1/consent.js";
import { Signed } from "../gen/creditmesh/v1/peer.js";
import type { Logger } from "../logger.js";
import { CreditMeshError } from "../errors.js";
import { decodeStored, parseStoredDate } from "./codec.js";
import type { NodeDatabase, Sublevels, WriteOp } from "./database.js";
import { AFTER_SEP, keyPart, lastPart, SEP, under } from "./keys.js";
import { DeleteBatches } from "./delete-batches.js";
import { KeyedSerialQueue } from "./serial.js";
import type { ConsentStore, IssuedRevocationEntry } from "./types.js";

/** Key shapes inside the consent sublevel; the leading tag keeps them apart. */
const CONSENT = "c";
const BY_SUBJECT = "s";
const EMPTY = new Uint8Array(0);
/** Key shapes inside the revoked sublevel; a key without SEP is a revocation stored before grantees were part of the key. */
const BY_GRANTEE = "g";
const ISSUED = "i";
const CURSOR = "p";
const SEQUENCE_DIGITS = 16;
/** Deletes per batch of the retention sweep. */
const PURGE_BATCH = 1000;
/** Queue key of the issued-revocation log; holds SEP, so no consent id can be it. */
const ISSUE_QUEUE = SEP + "issued";

/**
 * Consents (protobuf bytes) with a subject index, and revocations.
 *
 * - consent: `c!<consentId>`                → Consent
 *            `s!<subjectToken>!<consentId>` → empty
 * - revoked: `g!<granteeInstitutionId>!<consentId>` → ISO time of the earliest revocation seen
 *            `i!<sequence, 16 digits>`      → base64 of a revocation this node issued, signed
 *                                             (its log, served to members that missed the gossip)
 *            `p!<institutionId>`            → position in that member's log pulled so far
 *
 * Revocations live apart from consents because a holder may learn of one
 * (from gossip) before, or without ever, receiving the consent itself. They
 * are keyed by grantee too: a consent id is chosen by its grantee, so only
 * the pair names one consent, and a revocation signed by one member can
 * never match a consent another member holds.
 */
export class LevelConsentStore implements ConsentStore {
  private readonly levels: Sublevels;
  private readonly queue = new KeyedSerialQueue();
  /** The issued log's last position once read: only this store appends to it, and every member asks for it on each pull. */
  #lastIssued: number | undefined;

  constructor(private readonly db: NodeDatabase) {
    this.levels = db.levels;
  }

  async put(consent: Consent): Promise<void> {
    const id = keyPart("consent_id", consent.consentId);
    const token = keyPart("subject_token", consent.subjectToken);
    const bytes = Consent.encode(consent).finish();
    return this.queue.run(id, async () => {
      const { consent: level } = this.levels;
      const ops: WriteOp[] = [
        { type: "put", sublevel: level, key: consentKey(id), value: bytes },
        { type: "put", sublevel: level, key: subjectKey(token, id), value: EMPTY },
      ];
      // A consent re-put under another subject must leave the old index.
      const old = await this.get(id);
      if (old !== undefined && old.subjectToken !== token) {
        ops.push({ type: "del", sublevel: level, key: subjectKey(old.subjectToken, id) });
      }
      await this.db.write(ops);
    });
  }

  /**
   * Point reads of consents and revocations run in place (getSync): they are
   * on every report's and every query's path, the keys are small and recently
   * written, and a read served from LevelDB's memory costs a few µs here
   * against ~20 µs and two thread hand-offs on the thread pool.
   */
  async get(consentId: string): Promise<Consent | undefined> {
    const key = consentKey(keyPart("consent_id", consentId));
    const bytes = this.levels.consent.getSync(key);
    return bytes === undefined ? undefined : decodeConsent(key, bytes);
  }

  async listForSubject(subjectToken: string): Promise<Consent[]> {
    const level = this.levels.consent;
    const keys = await level.keys(under(BY_SUBJECT + SEP + keyPart("subject_token", subjectToken))).all();
    if (keys.length === 0) return [];
    const consentKeys = keys.map((k) => consentKey(lastPart(k)));
    const values = await level.getMany(consentKeys);
    const out: Consent[] = [];
    values.forEach((v, i) => {
      if (v !== undefined) out.push(decodeConsent(consentKeys[i], v));
    });
    return out;
  }

  async putRevocation(granteeInstitutionId: string, consentId: string, revokedAt: Date): Promise<void> {
    const key = revokedKey(granteeInstitutionId, consentId);
    const id = keyPart("consent_id", consentId);
    if (!(revokedAt instanceof Date) || Number.isNaN(revokedAt.getTime())) {
      throw new CreditMeshError("VALIDATION_FAILED", "revoked_at: must be a valid time", { field: "revoked_at" });
    }
    // Serialised with put() on the same id, so neither reads a stale value.
    return this.queue.run(id, async () => {
      const known = this.readRevocation(key);
      // Gossip redelivers revocations; the first one seen is the one that counts.
      if (known !== undefined && known.getTime() <= revokedAt.getTime()) return;
      await this.db.write([{ type: "put", sublevel: this.levels.revoked, key, value: revokedAt.toISOString() }]);
    });
  }

  /** Undefined also for ids no revocation can be stored under (empty, or holding SEP): a peer's artefact may carry them. */
  async getRevocation(granteeInstitutionId: string, consentId: string): Promise<Date | undefined> {
    if (!isKeyPart(granteeInstitutionId) || !isKeyPart(consentId)) return undefined;
    return this.readRevocation(revokedKey(granteeInstitutionId, consentId));
  }

  private readRevocation(key: string): Date | undefined {
    const iso = this.levels.revoked.getSync(key);
    return iso === undefined ? undefined : parseStoredDate("revocation", key, iso);
  }

  /**
   * Drops revocations stored by consent id alone (before the grantee was part
   * of the key): nothing says who signed them, so none is trusted. Each
   * member's log is pulled again from its start (cursors reset), which brings
   * back every genuine one signed by its grantee, and this node's own are
   * re-keyed from its issued log. Runs at open; a no-op once done.
   */
  async rekeyLegacyRevocations(logger?: Logger): Promise<number> {
    const level = this.levels.revoked;
    const legacy = (await level.keys().all()).filter((k) => !k.includes(SEP));
    if (legacy.length === 0) return 0;
    const ops: WriteOp[] = legacy.map((key) => ({ type: "del", sublevel: level, key }));
    for (const key of await level.keys(under(CURSOR)).all()) ops.push({ type: "del", sublevel: level, key });
    for (const entry of await this.listIssuedRevocations(0, Number.MAX_SAFE_INTEGER)) {
      const own = Revocation.decode(Signed.decode(entry.signed).body);
      if (own.revokedAt) ops.push({ type: "put", sublevel: level, key: revokedKey(own.granteeInstitutionId, own.consentId), value: own.revokedAt.toISOString() });
    }
    await this.db.write(ops);
    logger?.info({ dropped: legacy.length }, "revocations stored without their grantee dropped; pulling members' revocation logs again");
    return legacy.length;
  }

  async putIssuedRevocation(
    revoked: Consent,
    seal: (revocation: Revocation) => Uint8Array,
  ): Promise<{ revocation: Revocation; sequence: number }> {
    const id = keyPart("consent_id", revoked.consentId);
    const token = keyPart("subject_token", revoked.subjectToken);
    const revokedAt = revoked.revokedAt;
    if (!(revokedAt instanceof Date) || Number.isNaN(revokedAt.getTime())) {
      throw new CreditMeshError("VALIDATION_FAILED", "revoked_at: must be a valid time", { field: "revoked_at" });
    }
    // One writer of the log at a time (positions never repeat), and no put() of this consent meanwhile.
    return this.queue.run(ISSUE_QUEUE, () =>
      this.queue.run(id, async () => {
        const sequence = (await this.lastIssuedSequence()) + 1;
        const revocation: Revocation = { consentId: id, granteeInstitutionId: revoked.granteeInstitutionId, revokedAt };
        const { consent: consentLevel, revoked: revokedLevel } = this.levels;
        const ops: WriteOp[] = [
          { type: "put", sublevel: consentLevel, key: consentKey(id), value: Consent.encode(revoked).finish() },
          { type: "put", sublevel: consentLevel, key: subjectKey(token, id), value: EMPTY },
          { type: "put", sublevel: revokedLevel, key: issuedKey(sequence), value: Buffer.from(seal(revocation)).toString("base64") },
        ];
        const key = revokedKey(revoked.granteeInstitutionId, id);
        const known = this.readRevocation(key);
        if (known === undefined || known.getTime() > revokedAt.getTime()) {
          ops.push({ type: "put", sublevel: revokedLevel, key, value: revokedAt.toISOString() });
        }
        await this.db.write(ops);
        this.#lastIssued = sequence;
        return { revocation, sequence };
      }),
    );
  }

  async listIssuedRevocations(afterSequence: number, limit: number): Promise<IssuedRevocationEntry[]> {
    if (limit <= 0) return [];
    const entries = await this.levels.revoked
      .iterator({ gt: issuedKey(Math.max(0, afterSequence)), lt: ISSUED + AFTER_SEP, limit })
      .all();
    return entries.map(([key, value]) => ({ sequence: Number(lastPart(key)), signed: Buffer.from(value, "base64") }));
  }

  async lastIssuedSequence(): Promise<number> {
    if (this.#lastIssued !== undefined) return this.#lastIssued;
    const [last] = await this.levels.revoked.keys({ ...under(ISSUED), reverse: true, limit: 1 }).all();
    // A write that finished meanwhile knows better.
    this.#lastIssued ??= last === undefined ? 0 : Number(lastPart(last));
    return this.#lastIssued;
  }

  async getRevocationCursor(institutionId: string): Promise<number> {
    const value = await this.levels.revoked.get(cursorKey(institutionId));
    const sequence = value === undefined ? 0 : Number(value);
    return Number.isSafeInteger(sequence) && sequence >= 0 ? sequence : 0;
  }

  async putRevocationCursor(institutionId: string, sequence: number): Promise<void> {
    if (!Number.isSafeInteger(sequence) || sequence < 0) {
      throw new CreditMeshError("VALIDATION_FAILED", "sequence: must be a non-negative integer", { field: "sequence" });
    }
    await this.db.write([{ type: "put", sublevel: this.levels.revoked, key: cursorKey(institutionId), value: String(sequence) }]);
  }

  /**
   * Destroys every consent that ended (expired, or was revoked) before
   * `before`, with its subject index entry, in batches of `batchSize`,
   * stopping at a batch boundary once `halted()` says so; returns how many
   * went. Revocations stay: they name a grantee, a consent id and a time,
   * nothing of the subject, and a member's copy of an artefact stays
   * refused. A consent ended that long ago authorizes nothing: a holder
   * refuses it on its dates alone.
   */
  async purgeEndedBefore(before: Date, opts: { batchSize?: number; halted?: () => boolean } = {}): Promise<number> {
    const level = this.levels.consent;
    const cutoff = before.getTime();
    const deletes = new DeleteBatches(this.db, { batchSize: opts.batchSize ?? PURGE_BATCH, halted: opts.halted });
    for await (const [key, bytes] of level.iterator(under(CONSENT))) {
      const consent = decodeConsent(key, bytes);
      if (consentEnd(consent) >= cutoff) continue;
      const index = subjectKey(keyPart("subject_token", consent.subjectToken), lastPart(key));
      if (await deletes.add([{ type: "del", sublevel: level, key }, { type: "del", sublevel: level, key: index }])) break;
    }
    return deletes.finish();
  }

  /**
   * The deletes that destroy every consent of a subject with its index
   * entries, for a caller's batch, and how many consents that is.
   * Revocations stay: they name a consent id and a time, nothing of the
   * subject, and keep a copied artefact refused.
   */
  async destroyOps(subjectToken: string): Promise<{ ops: WriteOp[]; consents: number }> {
    const level = this.levels.consent;
    const indexKeys = await level.keys(under(BY_SUBJECT + SEP + keyPart("subject_token", subjectToken))).all();
    const ops: WriteOp[] = [];
    for (const key of indexKeys) {
      ops.push({ type: "del", sublevel: level, key });
      ops.push({ type: "del", sublevel: level, key: consentKey(lastPart(key)) });
    }
    return { ops, consents: indexKeys.length };
  }

  /**
   * The writes that file a subject's consents under its new token (a token
   * migration): the index entries move, the signed artefacts stay as signed,
   * binding the earlier token.
   */
  async reindexOps(earlier: string, current: string): Promise<{ ops: WriteOp[]; consents: number }> {
    const level = this.levels.consent;
    const indexKeys = await level.keys(under(BY_SUBJECT + SEP + keyPart("subject_token", earlier))).all();
    const to = keyPart("subject_token", current);
    const ops: WriteOp[] = indexKeys.flatMap((key): WriteOp[] => [
      { type: "put", sublevel: level, key: subjectKey(to, lastPart(key)), value: EMPTY },
      { type: "del", sublevel: level, key },
    ]);
    return { ops, consents: indexKeys.length };
  }
}

/** When a consent stopped authorizing anything: its end of validity, or its revocation if earlier (ms; a consent without an end never ends). */
function consentEnd(consent: Consent): number {
  const until = consent.validUntil?.getTime() ?? Number.POSITIVE_INFINITY;
  const revoked = consent.revokedAt?.getTime() ?? Number.POSITIVE_INFINITY;
  return Math.min(Number.isNaN(until) ? Number.POSITIVE_INFINITY : until, Number.isNaN(revoked) ? Number.POSITIVE_INFINITY : revoked);
}

function consentKey(id: string): string {
  return CONSENT + SEP + id;
}

function subjectKey(token: string, id: string): string {
  return BY_SUBJECT + SEP + token + SEP + id;
}

function isKeyPart(value: string): boolean {
  return typeof value === "string" && value.length > 0 && !value.includes(SEP);
}

function revokedKey(granteeInstitutionId: string, consentId: string): string {
  return BY_GRANTEE + SEP + keyPart("grantee_institution_id", granteeInstitutionId) + SEP + keyPart("consent_id", consentId);
}

function issuedKey(sequence: number): string {
  return ISSUED + SEP + String(sequence).padStart(SEQUENCE_DIGITS, "0");
}

function cursorKey(institutionId: string): string {
  return CURSOR + SEP + keyPart("institution_id", institutionId);
}

function decodeConsent(key: string, bytes: Uint8Array): Consent {
  return decodeStored("consent", key, bytes, (b) => Consent.decode(b));
}
