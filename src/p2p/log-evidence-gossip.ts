import { CreditMeshError } from "../errors.js";
import { publicKeyFromPeerId } from "../identity/node-key.js";
import type { Membership } from "../identity/manifest.js";
import { openCheckpoint, openNote, parseNote, parseVerifierKey, type WitnessStore } from "../tlog/index.js";
import { logVerifierKey } from "../tlog/vkey.js";
import type { PeerComponents } from "./components.js";
import type { PeerService } from "./peer-node.js";
import { LOG_EVIDENCE_TOPIC } from "./protocols.js";

export type LogEvidenceGossipComponents = Pick<PeerComponents, "peer" | "membership" | "clock" | "logger"> & {
  store: WitnessStore;
  onEvidence?: (origin: string) => void;
};

const bad = (reason: string): CreditMeshError => new CreditMeshError("VALIDATION_FAILED", `log evidence: ${reason}`, { field: "evidence" });

function vkeyOf(membership: Membership, institutionId: string) {
  const member = membership.byInstitution(institutionId);
  if (!member) throw bad(`${institutionId} is not a member`);
  return parseVerifierKey(logVerifierKey(institutionId, publicKeyFromPeerId(member.peerId)));
}

/**
 * Re-checks a witness's signed evidence note on its own: signed by a member,
 * holding two checkpoints both signed by the accused member's key that no
 * append-only log could have produced together (same size with two roots,
 * or a size going back). INCONSISTENT evidence rests on a proof only the
 * witness saw checked, so it is not taken from others. Returns the accused
 * institution id.
 */
export function checkLogEvidence(note: string, membership: Membership): string {
  const witness = parseNote(note).signatures[0]?.name;
  if (!witness) throw bad("unsigned");
  openNote(note, vkeyOf(membership, witness));
  const lines = note.slice(0, note.lastIndexOf("\n\n")).split("\n");
  const [tag, kind, origin, , prev, next] = lines;
  if (tag !== "creditmesh log evidence/v1" || !origin || !prev || !next) throw bad("not a creditmesh log evidence/v1 note");
  const log = vkeyOf(membership, origin);
  const a = openCheckpoint(Buffer.from(prev, "base64").toString("utf8"), log, origin).checkpoint;
  const b = openCheckpoint(Buffer.from(next, "base64").toString("utf8"), log, origin).checkpoint;
  if (kind === "EQUIVOCATION" && a.size === b.size && Buffer.compare(a.root, b.root) !== 0) return origin;
  if (kind === "ROLLBACK" && b.size < a.size) return origin;
  throw bad(`${kind ?? "?"} is not shown by the two checkpoints`);
}

/** `creditmesh/log-evidence/1`: evidence a witness found, passed to every member, which keeps it once re-checked. */
export class LogEvidenceGossip implements PeerService {
  #unsubscribe: (() => void) | undefined;

  constructor(private readonly c: LogEvidenceGossipComponents) {}

  start(): void {
    if (this.#unsubscribe) return;
    this.#unsubscribe = this.c.peer.subscribe(LOG_EVIDENCE_TOPIC, async (data) => {
      const note = Buffer.from(data).toString("utf8");
      let origin: string;
      try {
        origin = checkLogEvidence(note, this.c.membership);
      } catch (err) {
        this.c.logger.warn({ err: (err as Error).message }, "gossiped log evidence refused");
        return;
      }
      if ((await this.c.store.evidence()).some((e) => e.note === note)) return;
      await this.c.store.addEvidence(origin, this.c.clock.now(), note);
      this.c.logger.warn({ origin }, "evidence against a member's transparency log received");
      this.c.onEvidence?.(origin);
    });
  }

  stop(): void {
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
  }

  async publish(note: string): Promise<void> {
    // Flooded: evidence of a forked log is rare and every member should hear it.
    await this.c.peer.publish(LOG_EVIDENCE_TOPIC, Buffer.from(note, "utf8"), undefined, { flood: true });
  }
}
