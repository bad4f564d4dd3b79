import type { Member } from "../gen/creditmesh/v1/peer.js";
import type { Logger } from "../logger.js";
import { rankMembers } from "../p2p/member-rank.js";
import type { WitnessProtocol } from "../p2p/witness-protocol.js";
import { addCosignatures, parseCheckpoint, parseNote, verifyCosignature, type TiledLog } from "../tlog/index.js";

/**
 * The institution ids of the `count` members asked to witness this node's
 * log: the first of its stable member ranking, which are also the first of
 * the members it keeps connected (PeerNode `keepConnected`), so witnessing
 * costs a bounded number of requests per checkpoint and no dials, whatever
 * the size of the network.
 */
export function witnessesOf(selfPeerId: string, membership: { members(): Pick<Member, "peerId" | "institutionId">[] }, count: number): string[] {
  const others = membership.members().filter((m) => m.peerId !== selfPeerId);
  const ids = new Map(others.map((m) => [m.peerId, m.institutionId]));
  return rankMembers(selfPeerId, [...ids.keys()]).slice(0, count).map((p) => ids.get(p)!);
}

/**
 * The log side of witnessing: each published checkpoint is sent to each
 * witness (witnessesOf) with a consistency proof from the size that member last
 * cosigned (learned from its answers; a conflict_size answer corrects it),
 * and the cosignatures that come back are added to the note, kept as the
 * latest cosigned checkpoint once at least `quorum` members signed.
 */
export class CheckpointWitnessing {
  private readonly lastCosigned = new Map<string, number>();
  private latest?: string;
  private running: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly opts: { quorum: number },
    private readonly modules: { log: TiledLog; witnesses: () => string[]; protocol: Pick<WitnessProtocol, "add" | "witnessKey">; logger: Logger },
  ) {}

  /** The latest checkpoint cosigned by a quorum, with its cosignature lines. */
  get cosigned(): string | undefined {
    return this.latest;
  }

  /** Witnessing runs one checkpoint at a time; a newer one waits for the one in flight. */
  published(note: string): void {
    this.running = this.running.then(() => this.collect(note)).catch((err: unknown) => this.modules.logger.warn({ err: (err as Error).message }, "witnessing a checkpoint failed"));
  }

  async flushed(): Promise<void> {
    await this.running;
  }

  private async collect(note: string): Promise<void> {
    const size = parseCheckpoint(note.slice(0, note.indexOf("\n\n") + 1)).size;
    const lines: string[] = [];
    await Promise.all(
      this.modules.witnesses().map(async (id) => {
        try {
          const line = await this.ask(id, note, size, this.lastCosigned.get(id) ?? 0, true);
          if (line) lines.push(line);
        } catch (err) {
          this.modules.logger.debug({ witness: id, err: (err as Error).message }, "a witness did not cosign");
        }
      }),
    );
    if (lines.length >= this.opts.quorum) this.latest = addCosignatures(note, lines);
  }

  private async ask(id: string, note: string, size: number, oldSize: number, retry: boolean): Promise<string | undefined> {
    const proof = oldSize > 0 && oldSize < size ? await this.modules.log.consistencyProof(oldSize, size) : [];
    const answer = await this.modules.protocol.add(id, { oldSize: String(oldSize), proof: proof.map((p) => Buffer.from(p)), checkpoint: note });
    const conflict = Number(answer.conflictSize);
    if (conflict > 0 && retry && conflict <= size) return this.ask(id, note, size, conflict, false);
    if (answer.evidence) this.modules.logger.error({ witness: id }, "a witness holds evidence against this node's log");
    if (!answer.cosignature) return undefined;
    // A line under another witness's key (or not verifying) would make that witness's genuine cosignature fail too.
    if (!this.cosignedBy(id, note, answer.cosignature)) {
      this.modules.logger.warn({ witness: id }, "a witness answered with a cosignature that is not its own valid one over this checkpoint");
      return undefined;
    }
    this.lastCosigned.set(id, size);
    return answer.cosignature;
  }

  /** Whether `line` is one cosignature line by witness `id`'s key that verifies over this very checkpoint. */
  private cosignedBy(id: string, note: string, line: string): boolean {
    const key = this.modules.protocol.witnessKey(id);
    if (!key) return false;
    try {
      const cosigned = parseNote(`${parseNote(note).text}\n${line.endsWith("\n") ? line : `${line}\n`}`);
      return cosigned.signatures.length === 1 && verifyCosignature(cosigned, key) !== undefined;
    } catch {
      return false;
    }
  }
}
