import { createHmac } from "node:crypto";
import type { AuditTrail } from "../audit/trail.js";
import { evaluationAudit } from "../audit/evaluation-audit.js";
import type { Secrets } from "../config/secrets.js";
import { CreditMeshError } from "../errors.js";
import type { Membership } from "../identity/manifest.js";
import type { PeerComponents } from "../p2p/components.js";
import { OprfProtocol } from "../p2p/oprf-protocol.js";
import { OPRF_HANDLER_TIMEOUT_MS, OPRF_MAX_FRAME_BYTES } from "../p2p/protocols.js";
import type { PeerService } from "../p2p/peer-node.js";
import type { Stores } from "../store/index.js";
import { LevelTokenCache } from "../store/level-token-cache.js";
import type { Committee } from "../subject/oprf/committee.js";
import { OprfEvaluatorService } from "../subject/oprf/evaluator-service.js";
import { decodeKeyShare, publicShareOf } from "../subject/oprf/threshold.js";
import { ThresholdOprfTokenizer } from "../subject/oprf/tokenizer.js";
import { WorkerShareEvaluator } from "../subject/oprf/worker-evaluator.js";

/** Elements one member may have evaluated per purpose and UTC day without an operator ticket. */
export const DEFAULT_DAILY_TOKEN_QUOTA = 200_000;

export interface SubjectTokenParts {
  committee: Committee;
  /** Both ends of /creditmesh/oprf/1.0.0; the evaluator end only on a committee member. */
  protocol: OprfProtocol;
  tokenizer: ThresholdOprfTokenizer;
  /** Stops the share's worker thread (registered before the protocol, so stopped after it). */
  services: PeerService[];
  /** Whether this node evaluates for the committee. */
  evaluator: boolean;
}

/**
 * The threshold-OPRF subject-token parts of a node whose manifest names a
 * token committee (undefined otherwise: the network keeps its HMAC key). A
 * committee member must hold the share the manifest's public share names.
 */
export function createSubjectTokenParts(
  membership: Membership,
  c: Omit<PeerComponents, "metrics">,
  deps: { institutionId: string; maxClockSkewMs: number; secrets: Pick<Secrets, "tokenKeyShare" | "accountRefKey">; stores: Stores; audit: AuditTrail },
): SubjectTokenParts | undefined {
  const committee = membership.tokenCommittee();
  if (!committee) return undefined;
  const me = committee.members.find((m) => m.institutionId === deps.institutionId);
  let evaluator: OprfEvaluatorService | undefined;
  const services: PeerService[] = [];
  if (me) {
    if (!deps.secrets.tokenKeyShare) {
      throw new CreditMeshError("CONFIG_INVALID", `tokenKeyShare: required, the manifest names ${deps.institutionId} as a token evaluator`, { field: "tokenKeyShare" });
    }
    const share = decodeKeyShare(Buffer.from(deps.secrets.tokenKeyShare, "hex"), "tokenKeyShare");
    const pub = publicShareOf(share);
    if (pub.index !== me.index || !Buffer.from(pub.bytes).equals(Buffer.from(me.publicShare))) {
      throw new CreditMeshError("CONFIG_INVALID", `tokenKeyShare: is not the share the manifest names for ${deps.institutionId} (index ${me.index}, epoch ${committee.epoch})`, { field: "tokenKeyShare" });
    }
    const worker = new WorkerShareEvaluator(share);
    services.push({ start: () => undefined, stop: () => worker.close() });
    const { stores } = deps;
    evaluator = new OprfEvaluatorService(
      {
        institutionId: deps.institutionId,
        networkId: membership.networkId,
        epoch: committee.epoch,
        dailyQuota: () => DEFAULT_DAILY_TOKEN_QUOTA,
        operatorKey: membership.operatorPublicKey,
        maxSkewMs: deps.maxClockSkewMs,
        now: () => c.clock.now(),
      },
      {
        share: worker,
        nonces: { claim: (r, n, e) => stores.nonces.remember(r, n, e) },
        quota: stores.tokenQuota,
        audit: evaluationAudit(deps.audit),
      },
    );
  }
  const protocol = new OprfProtocol(
    { ...c, logger: c.logger.child({ protocol: "oprf" }), evaluator },
    { institutionId: deps.institutionId, maxClockSkewMs: deps.maxClockSkewMs, maxFrameBytes: OPRF_MAX_FRAME_BYTES, handlerTimeoutMs: OPRF_HANDLER_TIMEOUT_MS },
  );
  // The cache's lookups are keyed by a key of this node alone, derived from its account-ref key.
  const lookupKey = createHmac("sha256", Buffer.from(deps.secrets.accountRefKey, "hex")).update("creditmesh token cache lookup").digest();
  const tokenizer = new ThresholdOprfTokenizer({ committee, evaluators: protocol, cache: new LevelTokenCache(deps.stores.db, deps.stores.cipher, lookupKey) });
  return { committee, protocol, tokenizer, services, evaluator: evaluator !== undefined };
}
