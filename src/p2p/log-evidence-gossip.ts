import { CreditMeshError } from "../errors.js";
import { publicKeyFromPeerId } from "../identity/node-key.js";
import type { Membership } from "../identity/manifest.js";
import { openCheckpoint, openNote, parseNote, parseVerifierKey, type EvidenceKind, type WitnessStore } from "../tlog/index.js";
import { logVerifierKey } from "../tlog/vkey.js";
import type { PeerComponents } from "./components.js";
import type { GossipVerdict, PeerService } from "./peer-node.js";
import { LOG_EVIDENCE_TOPIC, MAX_LOG_EVIDENCE_BYTES } from "./protocols.js";

export type LogEvidenceGossipComponents = Pick<PeerComponents, "peer" | "membership" | "clock" | "logger"> & {
  store: WitnessStore;
  onEvidence?: (origin: string) => void;
};

const bad = (reason: string): CreditMeshError => new CreditMeshError("VALIDATION_FAILED", `log evidence: ${reason}`, { field: "evidence" });

/** The only kind a receiver can check from the two notes alone. */
const GOSSIPED: EvidenceKind = "EQUIVOCATION";

function vkeyOf(membership: Membership, institutionId: string) {
  const member = membership.byInstitution(institutionId);
  if (!member) throw bad(`${institutionId} is not a member`);
  return parseVerifierKey(logVerifierKey(institutionId, publicKeyFromPeerId(member.peerId)));
}

/** What a note claims (kind, accused log, signer), read without checking any signature; undefined when it is not an evidence note. */
function claimOf(note: string): { kind: string; origin: string; witness: string } | undefined {
  const [tag, kind, origin] = note.split("\n", 3);
  const sig = note.slice(note.lastIndexOf("\n\n") + 2);
  const witness = sig.startsWith("— ") ? sig.slice(2, sig.indexOf(" ", 2)) : "";
  if (tag !== "creditmesh log evidence/v1" || !kind || !origin || !witness) return undefined;
  return { kind, origin, witness };
}

const heldKey = (origin: string, kind: string): string => `${origin}\n${kind}`;

/**
 * Re-checks a witness's signed evidence note on its own: at most
 * MAX_LOG_EVIDENCE_BYTES, signed by a member other than the accused, holding
 * two checkpoints of one size with two roots, both signed by the accused
 * member's key. Nothing else is taken from others: two honest checkpoints of
 * different sizes look the same whichever came first, so a ROLLBACK is known
 * only to the witness that saw the log submit them, and INCONSISTENT rests on
 * a proof only the witness saw checked. A member's own note about its log
 * proves nothing anyone needs and costs every member disk. Returns the
 * accused institution id.
 */
export function checkLogEvidence(note: string, membership: Membership): string {
  if (Buffer.byteLength(note, "utf8") > MAX_LOG_EVIDENCE_BYTES) throw bad(`larger than ${MAX_LOG_EVIDENCE_BYTES} bytes`);
  const witness = parseNote(note).signatures[0]?.name;
  if (!witness) throw bad("unsigned");
  const lines = note.slice(0, note.lastIndexOf("\n\n")).split("\n");
  const [tag, kind, origin, , prev, next] = lines;
  if (tag !== "creditmesh log evidence/v1" || !origin || !prev || !next) throw bad("not a creditmesh log evidence/v1 note");
  if (witness === origin) throw bad("signed by the accused log's own institution");
  if (kind !== GOSSIPED) throw bad(`${kind ?? "?"} evidence is not taken from gossip: only the witness that found it can know`);
  openNote(note, vkeyOf(membership, witness));
  const log = vkeyOf(membership, origin);
  const a = openCheckpoint(Buffer.from(prev, "base64").toString("utf8"), log, origin).checkpoint;
  const b = openCheckpoint(Buffer.from(next, "base64").toString("utf8"), log, origin).checkpoint;
  if (a.size === b.size && Buffer.compare(a.root, b.root) !== 0) return origin;
  throw bad(`${kind} is not shown by the two checkpoints`);
}

/**
 * The evidence to show (status, metrics) from what the store holds: this
 * node's own findings, and equivocations found by another member than the
 * accused; the first note per log and kind. Databases written before gossip
 * was restricted may hold others (rollbacks claimed by any member, a
 * member's notes about itself, many notes of one kind); they stay on disk.
 */
export function evidenceToShow<E extends { origin: string; note: string }>(held: readonly E[], self: string): E[] {
  const seen = new Set<string>();
  return held.filter((e) => {
    const claim = claimOf(e.note);
    if (!claim || claim.origin !== e.origin) return false;
    if (claim.witness !== self && (claim.kind !== GOSSIPED || claim.witness === claim.origin)) return false;
    const key = heldKey(claim.origin, claim.kind);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** `creditmesh/log-evidence/1`: evidence a witness found, passed to every member, which keeps it once re-checked. */
export class LogEvidenceGossip implements PeerService {
  #unsubscribe: (() => void) | undefined;
  /** (log, kind) pairs this node holds evidence of: later notes about them are neither checked again nor relayed. At most members × kinds. */
  readonly #held = new Set<string>();

  constructor(private readonly c: LogEvidenceGossipComponents) {}

  start(): void {
    if (this.#unsubscribe) return;
    this.#unsubscribe = this.c.peer.subscribe(
      LOG_EVIDENCE_TOPIC,
      (data, from) => this.#onMessage(data, from.peerId),
      (data, from) => this.#validate(data, from.peerId),
    );
  }

  stop(): void {
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
  }

  async publish(note: string): Promise<void> {
    // The witness keeps what others would refuse (a rollback it saw) as its own record.
    if (claimOf(note)?.kind !== GOSSIPED) return;
    // Flooded: evidence of a forked log is rare and every member should hear it.
    await this.c.peer.publish(LOG_EVIDENCE_TOPIC, Buffer.from(note, "utf8"), undefined, { flood: true });
  }

  // Before gossipsub relays a message: what this node would not keep is not passed on either.
  #validate(data: Uint8Array, from: string): GossipVerdict {
    // What the peer node checks for a topic without a validator of its own.
    if (!this.c.membership.has(from)) return "reject";
    if (data.length > MAX_LOG_EVIDENCE_BYTES) {
      this.c.logger.warn({ from, bytes: data.length }, "oversized log evidence refused");
      return "reject";
    }
    const note = Buffer.from(data).toString("utf8");
    const claim = claimOf(note);
    if (claim && this.#held.has(heldKey(claim.origin, claim.kind))) {
      this.c.logger.debug({ from, origin: claim.origin, kind: claim.kind }, "further log evidence dropped: this node holds evidence of that kind");
      return "ignore";
    }
    // A witness on an earlier version still gossips the kinds others cannot check: not relayed, not held against it.
    if (claim && claim.kind !== GOSSIPED) return "ignore";
    try {
      checkLogEvidence(note, this.c.membership);
      return "accept";
    } catch (err) {
      this.c.logger.warn({ from, err: (err as Error).message }, "gossiped log evidence refused");
      return "reject";
    }
  }

  async #onMessage(data: Uint8Array, from: string): Promise<void> {
    const note = Buffer.from(data).toString("utf8");
    let origin: string;
    try {
      origin = checkLogEvidence(note, this.c.membership);
    } catch (err) {
      this.c.logger.warn({ from, err: (err as Error).message }, "gossiped log evidence refused");
      return;
    }
    const stored = await this.c.store.addEvidence(origin, GOSSIPED, this.c.clock.now(), note);
    this.#held.add(heldKey(origin, GOSSIPED));
    if (!stored) {
      this.c.logger.debug({ from, origin }, "further log evidence dropped: this node holds evidence of that kind");
      return;
    }
    this.c.logger.warn({ origin, from }, "evidence against a member's transparency log received");
    this.c.onEvidence?.(origin);
  }
}
