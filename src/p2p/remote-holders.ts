import { isCreditMeshError } from "../errors.js";
import { HolderStatus, Role } from "../gen/creditmesh/v1/common.js";
import { QueryAnswer, QueryRequest, Signed, type Member } from "../gen/creditmesh/v1/peer.js";
import { HolderAnswer, type HolderOutcome } from "../gen/creditmesh/v1/report.js";
import { signBody } from "../identity/envelope.js";
import type { Membership } from "../identity/manifest.js";
import { verifyByPeerId } from "../identity/node-key.js";
import type { Logger } from "../logger.js";
import { holderLatency, holderOutcomes } from "../metrics.js";
import type { HolderResult } from "../report/assemble.js";
import type { Holders } from "../report/service.js";

/** Sends one request body to one peer; the RPC layer implements it. */
export type PeerRequest = (peerId: string, body: Uint8Array, signal: AbortSignal) => Promise<Uint8Array>;

/**
 * The requester's fan-out: the signed query goes to every other member that
 * furnishes data, in parallel, under one signal. Each member yields exactly
 * one outcome; an answer whose signature or content does not check out is
 * ERROR and its data is dropped.
 */
export class RemoteHolders implements Holders {
  constructor(
    private readonly opts: { institutionId: string },
    private readonly modules: {
      membership: Membership;
      request: PeerRequest;
      sign(data: Uint8Array): Uint8Array;
      logger: Logger;
    },
  ) {}

  /** Members asked for a report: every furnisher but this node. */
  holders(): Member[] {
    return this.modules.membership
      .members()
      .filter((m) => m.institutionId !== this.opts.institutionId && m.roles.includes(Role.FURNISHER));
  }

  async ask(query: QueryRequest, signal: AbortSignal): Promise<HolderResult[]> {
    const body = QueryRequest.encode(query).finish();
    // One signature per report, whatever the number of holders.
    const envelope = Signed.encode(signBody({ sign: this.modules.sign }, body)).finish();
    const results = await Promise.all(this.holders().map((member) => this.askOne(member, query, envelope, signal)));
    for (const r of results) {
      const status = HolderStatus[r.outcome.status] ?? String(r.outcome.status);
      holderOutcomes.inc({ status });
      holderLatency.observe({ holder: r.outcome.institutionId, status }, r.outcome.latencyMs / 1000);
    }
    return results;
  }

  private async askOne(member: Member, query: QueryRequest, envelope: Uint8Array, signal: AbortSignal): Promise<HolderResult> {
    const started = performance.now();
    const outcome = (status: HolderStatus, reason: string, extra: Partial<HolderOutcome> = {}): HolderOutcome => ({
      institutionId: member.institutionId,
      status,
      reason,
      latencyMs: Math.round(performance.now() - started),
      tradelines: 0,
      peerId: member.peerId,
      signedAnswer: Buffer.alloc(0),
      signature: Buffer.alloc(0),
      ...extra,
    });
    let bytes: Uint8Array;
    try {
      bytes = await this.modules.request(member.peerId, envelope, signal);
    } catch (err) {
      if (isCreditMeshError(err, "P2P_TIMEOUT") || (signal.aborted && !isCreditMeshError(err, "P2P_UNREACHABLE"))) {
        return { outcome: outcome(HolderStatus.TIMEOUT, "no answer before the deadline") };
      }
      if (isCreditMeshError(err, "P2P_UNREACHABLE")) return { outcome: outcome(HolderStatus.UNREACHABLE, err.message) };
      this.modules.logger.warn({ holder: member.institutionId, err: (err as Error).message }, "query failed");
      return { outcome: outcome(HolderStatus.ERROR, (err as Error).message) };
    }
    try {
      const wire = QueryAnswer.decode(bytes);
      if (!verifyByPeerId(member.peerId, wire.signedAnswer, wire.signature)) {
        return { outcome: outcome(HolderStatus.ERROR, "answer signature does not verify; data dropped") };
      }
      const answer = HolderAnswer.decode(wire.signedAnswer);
      const problem = mismatch(answer, query, member);
      if (problem) return { outcome: outcome(HolderStatus.ERROR, `${problem}; data dropped`) };
      const status = answer.status === HolderStatus.OK || answer.status === HolderStatus.NO_DATA || answer.status === HolderStatus.DENIED
        ? answer.status
        : HolderStatus.ERROR;
      return {
        outcome: outcome(status, answer.reason, {
          tradelines: answer.tradelines.length,
          signedAnswer: Buffer.from(wire.signedAnswer),
          signature: Buffer.from(wire.signature),
        }),
        answer: status === HolderStatus.DENIED ? undefined : answer,
      };
    } catch (err) {
      return { outcome: outcome(HolderStatus.ERROR, `malformed answer: ${(err as Error).message}`) };
    }
  }
}

/** An answer must be for this request, from this holder, about this subject, and hold only its own tradelines. */
function mismatch(answer: HolderAnswer, query: QueryRequest, member: Member): string | undefined {
  if (answer.requestId !== query.requestId) return "answer is for another request";
  if (answer.holderInstitutionId !== member.institutionId) return "answer names another holder";
  if (answer.subjectToken !== query.subjectToken) return "answer is about another subject";
  if (answer.tradelines.some((t) => t.institutionId !== member.institutionId)) return "answer carries another institution's tradelines";
  return undefined;
}
