import { createHmac } from "node:crypto";
import type { AuditTrail } from "../audit/trail.js";
import { evaluationAudit } from "../audit/evaluation-audit.js";
import type { Secrets } from "../config/secrets.js";
import { CreditMeshError } from "../errors.js";
import type { SignedDkgPlan } from "../gen/creditmesh/v1/dkg.js";
import type { RunTokenCeremonyResponse } from "../gen/creditmesh/v1/node.js";
import type { Membership } from "../identity/manifest.js";
import { publicKeyFromPeerId } from "../identity/node-key.js";
import type { PeerComponents } from "../p2p/components.js";
import { DkgProtocol } from "../p2p/dkg-protocol.js";
import { OprfProtocol } from "../p2p/oprf-protocol.js";
import { DKG_HANDLER_TIMEOUT_MS, DKG_MAX_FRAME_BYTES, OPRF_HANDLER_TIMEOUT_MS, OPRF_MAX_FRAME_BYTES } from "../p2p/protocols.js";
import type { PeerService } from "../p2p/peer-node.js";
import type { RateLimiter } from "../rate-limit.js";
import type { Stores } from "../store/index.js";
import { LevelTokenCache } from "../store/level-token-cache.js";
import { LevelTokenShares } from "../store/level-token-shares.js";
import { opsOf } from "../store/write-batch.js";
import type { Committee, CommitteeMember } from "../subject/oprf/committee.js";
import { runCeremony } from "../subject/oprf/dkg-coordinator.js";
import { CeremonyParticipant } from "../subject/oprf/dkg-participant.js";
import { openPlan } from "../subject/oprf/dkg-plan.js";
import { OprfEvaluatorService } from "../subject/oprf/evaluator-service.js";
import { decodeKeyShare, publicShareOf, type KeyShare } from "../subject/oprf/threshold.js";
import { ThresholdOprfTokenizer } from "../subject/oprf/tokenizer.js";
import { WorkerShareEvaluator } from "../subject/oprf/worker-evaluator.js";
import { SplitBatchMath } from "../subject/oprf/batch-math.js";
import { sharedBatchMath } from "../subject/oprf/worker-batch-math.js";

export interface SubjectTokenDeps {
  institutionId: string;
  maxClockSkewMs: number;
  /** Elements one member may have evaluated here per purpose and UTC day without an operator ticket (config tokens.dailyQuota). */
  dailyTokenQuota: number;
  /** How long a batch of new subjects waits for the committee's threshold of answers (config tokens.evaluationDeadlineMs). */
  evaluationDeadlineMs: number;
  secrets: Pick<Secrets, "tokenKeyShare" | "accountRefKey" | "nodeKey">;
  stores: Stores;
  audit: AuditTrail;
  /** Evaluation requests per member (config p2p.rateLimits.tokens); absent = unlimited. */
  rateLimiter?: RateLimiter;
}

interface Evaluating {
  share: KeyShare;
  worker: WorkerShareEvaluator;
  service: OprfEvaluatorService;
}

interface InForce {
  committee: Committee;
  tokenizer: ThresholdOprfTokenizer;
  /** Present when this member evaluates for the committee. */
  evaluating?: Evaluating;
}

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

/**
 * The threshold-OPRF subject-token parts of a node on a network: both ends
 * of /creditmesh/oprf/1.0.0 and /creditmesh/dkg/1.0.0, and the committee in
 * force. The committee follows the manifest while the node runs: a newer
 * manifest naming another committee (a key generation or a reshare) takes
 * effect at once, with this member's share for it from its database (made
 * by a ceremony) or its secrets file (`tokenKeyShare`), and shares of
 * earlier epochs are deleted. Without a committee in the manifest there is
 * no tokenizer here and the node keeps its HMAC key.
 */
export class SubjectTokenParts {
  readonly protocol: OprfProtocol;
  readonly dkg: DkgProtocol;
  readonly participant: CeremonyParticipant;
  readonly shares: LevelTokenShares;
  #inForce: InForce | undefined;
  #switching: Promise<void> = Promise.resolve();
  #unlisten: (() => void) | undefined;
  readonly #cache: LevelTokenCache;
  /** The requester's OPRF arithmetic: a bulk batch on a worker thread, so it does not stall the node; a report's one subject in place. */
  readonly #math = new SplitBatchMath(sharedBatchMath());
  readonly #log: PeerComponents["logger"];

  private constructor(
    private readonly membership: Membership,
    private readonly c: Omit<PeerComponents, "metrics">,
    private readonly deps: SubjectTokenDeps,
  ) {
    this.#log = c.logger.child({ part: "subject-tokens" });
    this.shares = new LevelTokenShares(deps.stores.db, Buffer.from(deps.secrets.nodeKey, "hex"));
    const evaluator = {
      handle: (...args: Parameters<OprfEvaluatorService["handle"]>) => {
        const e = this.#inForce?.evaluating;
        if (!e) throw new CreditMeshError("MEMBERSHIP_DENIED", "this member is not a subject-token evaluator");
        return e.service.handle(...args);
      },
    };
    this.protocol = new OprfProtocol(
      { ...c, logger: c.logger.child({ protocol: "oprf" }), evaluator, rateLimiter: deps.rateLimiter },
      { institutionId: deps.institutionId, maxClockSkewMs: deps.maxClockSkewMs, maxFrameBytes: OPRF_MAX_FRAME_BYTES, handlerTimeoutMs: OPRF_HANDLER_TIMEOUT_MS },
    );
    this.participant = new CeremonyParticipant({
      institutionId: deps.institutionId,
      signer: { publicKey: publicKeyFromPeerId(c.signer.peerId), sign: (d) => c.signer.sign(d) },
      context: () => this.#planContext(),
      currentShare: () => this.#inForce?.evaluating?.share,
      vault: this.shares,
      now: () => c.clock.now(),
      logger: c.logger.child({ part: "dkg" }),
      onStored: (entry, opened) =>
        deps.audit.append("TOKEN_SHARE_STORED", deps.institutionId, {
          session: opened.plan.sessionId, epoch: String(entry.epoch), index: String(entry.share.index), publicShare: hex(publicShareOf(entry.share).bytes),
        }),
    });
    this.dkg = new DkgProtocol(
      { ...c, logger: c.logger.child({ protocol: "dkg" }), participant: this.participant, nonces: deps.stores.nonces },
      { institutionId: deps.institutionId, maxClockSkewMs: deps.maxClockSkewMs, maxFrameBytes: DKG_MAX_FRAME_BYTES, handlerTimeoutMs: DKG_HANDLER_TIMEOUT_MS },
    );
    // The cache's lookups are keyed by a key of this node alone, derived from its account-ref key.
    const lookupKey = createHmac("sha256", Buffer.from(deps.secrets.accountRefKey, "hex")).update("creditmesh token cache lookup").digest();
    this.#cache = new LevelTokenCache(deps.stores.db, deps.stores.cipher, lookupKey);
  }

  /**
   * The parts with the manifest's committee in force. A committee member
   * without its share does not start (CONFIG_INVALID, field tokenKeyShare).
   */
  static async create(membership: Membership, c: Omit<PeerComponents, "metrics">, deps: SubjectTokenDeps): Promise<SubjectTokenParts> {
    const parts = new SubjectTokenParts(membership, c, deps);
    await parts.#bring(membership.tokenCommittee(), true);
    return parts;
  }

  get committee(): Committee | undefined {
    return this.#inForce?.committee;
  }

  /** The committee's tokenizer; undefined when the manifest names no committee. */
  get tokenizer(): ThresholdOprfTokenizer | undefined {
    return this.#inForce?.tokenizer;
  }

  /** Whether this node evaluates for the committee in force. */
  get evaluator(): boolean {
    return this.#inForce?.evaluating !== undefined;
  }

  /** For the peer node, in start order: the committee's lifecycle (manifest changes, worker), then both protocols. */
  get services(): PeerService[] {
    const lifecycle: PeerService = {
      start: () => {
        if (this.#unlisten) return;
        const onChange = () => this.#follow();
        this.membership.on("change", onChange);
        this.#unlisten = () => this.membership.off("change", onChange);
      },
      stop: async () => {
        this.#unlisten?.();
        this.#unlisten = undefined;
        this.participant.close();
        await this.#switching;
        await this.#inForce?.evaluating?.worker.close();
      },
    };
    return [lifecycle, this.protocol, this.dkg];
  }

  /** Resolves once the committee of the current manifest is in force (after a change was heard). */
  settled(): Promise<void> {
    return this.#switching;
  }

  /**
   * Coordinates the operator's ceremony with its participants (this member
   * need not be one) and returns the committee for the next manifest.
   */
  async runCeremony(signed: SignedDkgPlan | undefined, caller: string, signal?: AbortSignal): Promise<RunTokenCeremonyResponse> {
    const opened = openPlan(signed, { ...this.#planContext(), now: this.c.clock.now() });
    const named = opened.plan.coordinatorInstitutionId;
    if (named !== "" && named !== this.deps.institutionId) {
      throw new CreditMeshError("CONFLICT", `plan.coordinator_institution_id: the plan is for ${named} to run, not ${this.deps.institutionId}`, { field: "plan.coordinator_institution_id" });
    }
    const ttl = Math.max(1, opened.plan.notAfter!.getTime() - this.c.clock.now().getTime());
    const bounded = signal ? AbortSignal.any([signal, AbortSignal.timeout(ttl)]) : AbortSignal.timeout(ttl);
    const details = { session: opened.plan.sessionId, epoch: String(opened.epoch), threshold: String(opened.plan.threshold), reshare: String(opened.plan.reshareOf !== undefined) };
    try {
      const committee = await runCeremony(opened, this.dkg.peers(signed!), bounded);
      await this.deps.audit.append("TOKEN_CEREMONY_RUN", caller, { ...details, outcome: "OK", publicKey: hex(committee.publicKey) });
      return { sessionId: opened.plan.sessionId, committee };
    } catch (err) {
      const code = err instanceof CreditMeshError ? err.code : "INTERNAL";
      await this.deps.audit.append("TOKEN_CEREMONY_RUN", caller, { ...details, outcome: code });
      throw err;
    }
  }

  #planContext() {
    const m = this.membership;
    return {
      networkId: m.networkId,
      operatorKey: m.operatorPublicKey,
      signingKeyOf: (id: string) => {
        const member = m.byInstitution(id);
        return member ? publicKeyFromPeerId(member.peerId) : undefined;
      },
      committee: this.#inForce?.committee ?? m.tokenCommittee(),
    };
  }

  #follow(): void {
    let next: Committee | undefined;
    try {
      next = this.membership.tokenCommittee();
    } catch (err) {
      this.#log.error({ err: (err as Error).message }, "the new manifest's token committee is invalid; keeping the one in force");
      return;
    }
    const now = this.#inForce?.committee;
    if (now?.epoch === next?.epoch && now?.keyId === next?.keyId) return;
    this.#switching = this.#switching
      .then(() => this.#bring(next, false))
      .catch((err: unknown) => this.#log.error({ err: (err as Error).message }, "could not put the new token committee in force"));
  }

  /** Puts `committee` in force; `strict` (at start) refuses a committee this member cannot serve. */
  async #bring(committee: Committee | undefined, strict: boolean): Promise<void> {
    const previous = this.#inForce;
    let next: InForce | undefined;
    if (committee) {
      const me = committee.members.find((m) => m.institutionId === this.deps.institutionId);
      let evaluating: Evaluating | undefined;
      if (me) {
        const share = await this.#shareFor(committee, me);
        if (share) evaluating = this.#evaluating(committee, share);
        else if (strict) {
          throw new CreditMeshError(
            "CONFIG_INVALID",
            `tokenKeyShare: required, the manifest names ${this.deps.institutionId} as a token evaluator (index ${me.index}, epoch ${committee.epoch}) and neither its database nor its secrets file holds that share`,
            { field: "tokenKeyShare" },
          );
        } else {
          this.#log.error({ epoch: committee.epoch, index: me.index }, "named a token evaluator without holding that share: evaluations are refused");
        }
      }
      next = { committee, tokenizer: new ThresholdOprfTokenizer(
          { committee, evaluators: this.protocol, cache: this.#cache, math: this.#math },
          { deadlineMs: this.deps.evaluationDeadlineMs },
        ), evaluating };
    }
    this.#inForce = next;
    if (previous?.evaluating) await previous.evaluating.worker.close();
    if (committee) {
      // Old shares fit no committee in force any more; keeping them only helps a thief.
      const retired = await this.shares.retireBefore(committee.epoch);
      if (retired > 0) this.#log.info({ epoch: committee.epoch, retired }, "token key shares of earlier epochs deleted");
    }
    if (!strict) {
      this.#log.info({ epoch: committee?.epoch, evaluator: next?.evaluating !== undefined }, committee ? "token committee in force" : "no token committee: HMAC tokens");
    }
  }

  /** This member's share for `committee`: from a ceremony (database) or the secrets file; undefined if neither fits. */
  async #shareFor(committee: Committee, me: CommitteeMember): Promise<KeyShare | undefined> {
    const stored = await this.shares.find(committee.epoch, hex(me.publicShare));
    if (stored && stored.share.index === me.index) return stored.share;
    if (!this.deps.secrets.tokenKeyShare) return undefined;
    const share = decodeKeyShare(Buffer.from(this.deps.secrets.tokenKeyShare, "hex"), "tokenKeyShare");
    const pub = publicShareOf(share);
    return pub.index === me.index && Buffer.from(pub.bytes).equals(Buffer.from(me.publicShare)) ? share : undefined;
  }

  #evaluating(committee: Committee, share: KeyShare): Evaluating {
    const worker = new WorkerShareEvaluator(share);
    const { stores } = this.deps;
    const service = new OprfEvaluatorService(
      {
        institutionId: this.deps.institutionId,
        networkId: this.membership.networkId,
        epoch: committee.epoch,
        dailyQuota: () => this.deps.dailyTokenQuota,
        operatorKey: this.membership.operatorPublicKey,
        maxSkewMs: this.deps.maxClockSkewMs,
        now: () => this.c.clock.now(),
      },
      {
        share: worker,
        nonces: {
          reserve: (r, n, e) => {
            const claim = stores.nonces.claim(r, n, e);
            return claim && { commit: () => stores.db.write(opsOf(claim.batch)), release: () => claim.settled() };
          },
        },
        quota: stores.tokenQuota,
        audit: evaluationAudit(this.deps.audit),
      },
    );
    return { share, worker, service };
  }
}
