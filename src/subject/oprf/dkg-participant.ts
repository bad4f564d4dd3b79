import { createHash } from "node:crypto";
import { CreditMeshError, isCreditMeshError } from "../../errors.js";
import { DkgStep, type DkgAnswer, type DkgRequest, type DkgResult, type SignedDkgPlan } from "../../gen/creditmesh/v1/dkg.js";
import type { Logger } from "../../logger.js";
import {
  announceRecipient, checkEchoes, committeeKey, dealRound1, dealRound2, echo, finishRecipient, judgeComplaint, qualifiedDealers,
  receiveRound2, round1Digest, verifyRound1, type Complaint, type DealerCommitment, type DealerState, type RecipientKey, type Round1,
  type Signer, type Verdict, type VerifiedRound1,
} from "./dkg.js";
import { openPlan, type OpenedPlan, type PlanContext } from "./dkg-plan.js";
import { complaintFromWire, complaintToWire, shareFromWire } from "./dkg-wire.js";
import type { Scalar } from "./suite.js";
import { publicShareOf, type KeyShare } from "./threshold.js";

/** A share this member ended a ceremony with, for the committee of `epoch` (not in force until a manifest names it). */
export interface StoredShare {
  epoch: number;
  sessionId: string;
  /** Group key, hex. */
  publicKey: string;
  share: KeyShare;
}

/** Where a participant keeps the shares it made, durably; the node seals them in its database. */
export interface ShareVault {
  put(entry: StoredShare): Promise<void>;
}

export interface CeremonyParticipantDeps {
  institutionId: string;
  /** This member's node key. */
  signer: Signer;
  /** The network as the current manifest describes it. */
  context(): Omit<PlanContext, "now">;
  /** The share this member evaluates with now (it deals it in a reshare). */
  currentShare(): KeyShare | undefined;
  vault: ShareVault;
  now(): Date;
  logger: Logger;
  /** Called once a share is stored (the node audits it). */
  onStored?(entry: StoredShare, opened: OpenedPlan): Promise<void>;
}

/** Ceremonies one member takes part in at once; more is a coordinator gone wrong. */
export const MAX_OPEN_CEREMONIES = 4;

interface CeremonyState {
  opened: OpenedPlan;
  /** The member that sent ROUND1: only it may take this ceremony further or abort it here. */
  coordinator: string;
  planHash: string;
  done: DkgStep;
  dealer?: DealerState;
  myCommitment?: DealerCommitment;
  recipientSecret?: Scalar;
  myKey?: RecipientKey;
  digest?: string;
  verified?: VerifiedRound1;
  accepted?: Map<number, Scalar>;
  myComplaints: Complaint[];
  timer: NodeJS.Timeout;
}

const STEP_ORDER = [DkgStep.DKG_STEP_ROUND1, DkgStep.DKG_STEP_ECHO, DkgStep.DKG_STEP_DEAL, DkgStep.DKG_STEP_RECEIVE, DkgStep.DKG_STEP_FINISH];
const hashOf = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

/**
 * One member's side of key ceremonies: it answers each step the coordinator
 * sends, checks everything itself, and keeps its secrets (polynomial,
 * decryption key, accepted shares) only in memory until the ceremony ends.
 * Any failure ends the ceremony here: nothing half-made is kept.
 */
export class CeremonyParticipant {
  readonly #sessions = new Map<string, CeremonyState>();
  /** Ceremonies that ended here, until their plan expires: a plan starts at most one ceremony. */
  readonly #ended = new Map<string, { until: number; coordinator: string }>();

  constructor(private readonly d: CeremonyParticipantDeps) {}

  /** Ceremonies in progress here (for tests and status). */
  get open(): number {
    return this.#sessions.size;
  }

  /**
   * One step of a ceremony from `sender`, the member the transport
   * authenticated. The operator's plan names who takes part, not who
   * coordinates: any member holding the plan may send ROUND1, and whoever did
   * is the only one this ceremony then takes steps or an ABORT from.
   */
  async handle(request: DkgRequest, sender: string): Promise<DkgAnswer> {
    const opened = this.#open(request.plan);
    const sessionId = opened.plan.sessionId;
    const base = { sessionId, institutionId: this.d.institutionId, step: request.step, round1: undefined, echo: undefined, shares: [], complaints: [], result: undefined };
    if (request.step === DkgStep.DKG_STEP_ROUND1) return { ...base, round1: this.#round1(opened, sender) };
    const state = this.#sessions.get(sessionId);
    // Refused before anything else, so another participant holding the plan cannot end or steer the ceremony here.
    if (state && state.coordinator !== sender) {
      this.d.logger.warn({ session: sessionId, step: DkgStep[request.step], from: sender, coordinator: state.coordinator }, "key ceremony step from a member that does not coordinate it refused");
      throw new CreditMeshError("MEMBERSHIP_DENIED", `coordinator_institution_id: ${sender} does not coordinate ceremony ${sessionId} here`, { field: "coordinator_institution_id" });
    }
    if (request.step === DkgStep.DKG_STEP_ABORT) {
      if (state) this.d.logger.info({ session: sessionId, from: sender }, "key ceremony aborted by its coordinator");
      this.#forget(sessionId);
      return base;
    }
    if (!state) throw new CreditMeshError("NOT_FOUND", `no ceremony ${sessionId} in progress here`, { field: "plan.session_id" });
    try {
      if (state.planHash !== hashOf(opened.signed.body)) throw new CreditMeshError("CONFLICT", "plan: differs from the one this ceremony started with", { field: "plan" });
      const expected = STEP_ORDER[STEP_ORDER.indexOf(state.done) + 1];
      if (request.step !== expected) throw new CreditMeshError("CONFLICT", `step: ${DkgStep[request.step]} out of order, expected ${DkgStep[expected]}`, { field: "step" });
      let answer: DkgAnswer;
      switch (request.step) {
        case DkgStep.DKG_STEP_ECHO:
          answer = { ...base, echo: this.#echo(state, { commitments: request.round1?.commitments ?? [], recipientKeys: request.round1?.recipientKeys ?? [] }) };
          break;
        case DkgStep.DKG_STEP_DEAL:
          answer = { ...base, shares: this.#deal(state, request) };
          break;
        case DkgStep.DKG_STEP_RECEIVE:
          answer = { ...base, complaints: this.#receive(state, request).map(complaintToWire) };
          break;
        default:
          answer = { ...base, result: await this.#finish(state, request) };
          this.#forget(sessionId);
          return answer;
      }
      state.done = request.step;
      return answer;
    } catch (err) {
      this.#forget(sessionId);
      this.d.logger.warn({ session: sessionId, step: DkgStep[request.step], err: (err as Error).message }, "key ceremony ended here");
      throw err;
    }
  }

  /** Drops every ceremony in progress (node stop). */
  close(): void {
    for (const id of [...this.#sessions.keys()]) this.#forget(id);
  }

  #open(signed: SignedDkgPlan | undefined): OpenedPlan {
    return openPlan(signed, { ...this.d.context(), now: this.d.now() });
  }

  #forget(sessionId: string): void {
    const s = this.#sessions.get(sessionId);
    if (!s) return;
    clearTimeout(s.timer);
    this.#sessions.delete(sessionId);
    this.#ended.set(sessionId, { until: s.opened.plan.notAfter!.getTime(), coordinator: s.coordinator });
  }

  #round1(opened: OpenedPlan, coordinator: string): DkgAnswer["round1"] {
    const { session, plan } = opened;
    const nowMs = this.d.now().getTime();
    for (const [id, { until }] of this.#ended) if (until < nowMs) this.#ended.delete(id);
    const started = this.#sessions.get(plan.sessionId)?.coordinator ?? this.#ended.get(plan.sessionId)?.coordinator;
    if (started !== undefined) {
      // Named, so that a member that raced the real coordinator to ROUND1 is the one blamed.
      throw new CreditMeshError("CONFLICT", `ceremony ${plan.sessionId} already started here by ${started}`, { field: "plan.session_id" });
    }
    if (plan.coordinatorInstitutionId !== "" && plan.coordinatorInstitutionId !== coordinator) {
      this.d.logger.warn({ session: plan.sessionId, from: coordinator, coordinator: plan.coordinatorInstitutionId }, "key ceremony opened by a member the plan does not name refused");
      throw new CreditMeshError("MEMBERSHIP_DENIED", `coordinator_institution_id: the plan names ${plan.coordinatorInstitutionId}, not ${coordinator}`, { field: "coordinator_institution_id" });
    }
    if (this.#sessions.size >= MAX_OPEN_CEREMONIES) throw new CreditMeshError("UNAVAILABLE", `${MAX_OPEN_CEREMONIES} key ceremonies already in progress here`);
    const me = this.d.institutionId;
    const dealerIndex = plan.dealers.find((p) => p.institutionId === me)?.index;
    const recipientIndex = plan.recipients.find((p) => p.institutionId === me)?.index;
    if (dealerIndex === undefined && recipientIndex === undefined) {
      throw new CreditMeshError("MEMBERSHIP_DENIED", `${me} takes no part in ceremony ${plan.sessionId}`, { field: "plan" });
    }
    const ttl = Math.max(0, plan.notAfter!.getTime() - this.d.now().getTime());
    const timer = setTimeout(() => this.#forget(plan.sessionId), ttl);
    timer.unref();
    const state: CeremonyState = { opened, coordinator, planHash: hashOf(opened.signed.body), done: DkgStep.DKG_STEP_ROUND1, myComplaints: [], timer };
    try {
      if (dealerIndex !== undefined) {
        let constant: KeyShare | undefined;
        if (session.reshare) {
          constant = this.d.currentShare();
          if (!constant || constant.index !== dealerIndex) {
            throw new CreditMeshError("UNAVAILABLE", `${me} holds no share of the current committee at index ${dealerIndex} to deal`);
          }
        }
        const dealt = dealRound1(session, dealerIndex, this.d.signer, constant);
        state.dealer = dealt.state;
        state.myCommitment = dealt.message;
      }
      if (recipientIndex !== undefined) {
        const announced = announceRecipient(session, recipientIndex, this.d.signer);
        state.recipientSecret = announced.secret;
        state.myKey = announced.message;
      }
    } catch (err) {
      clearTimeout(timer);
      throw err;
    }
    this.#sessions.set(plan.sessionId, state);
    return { commitments: state.myCommitment ? [state.myCommitment] : [], recipientKeys: state.myKey ? [state.myKey] : [] };
  }

  #echo(state: CeremonyState, round1: Round1): DkgAnswer["echo"] {
    const { session, dealerIds } = state.opened;
    const mine = (a: { signature: string }[], m: { signature: string } | undefined) => !m || a.some((x) => x.signature === m.signature);
    if (!mine(round1.commitments, state.myCommitment) || !mine(round1.recipientKeys, state.myKey)) {
      throw new CreditMeshError("CONFLICT", `round1: the set relayed to ${this.d.institutionId} lacks its own message`, { field: "round1" });
    }
    const verified = verifyRound1(session, round1);
    if (verified.disqualified.size > 0) {
      const named = [...verified.disqualified].map(([i, why]) => `dealer ${dealerIds.get(i) ?? "?"} (index ${i}): ${why}`);
      throw new CreditMeshError("CONFLICT", `ceremony ${session.id} failed in round 1, no key made: ${named.join("; ")}`, { field: "round1" });
    }
    state.verified = verified;
    state.digest = round1Digest(session, round1);
    return echo(session, state.digest, this.d.signer);
  }

  #deal(state: CeremonyState, request: DkgRequest): DkgAnswer["shares"] {
    const { session, byKey } = state.opened;
    try {
      checkEchoes(session, state.digest!, request.echoes);
    } catch (err) {
      if (!(err instanceof CreditMeshError)) throw err;
      // The core names members by node key; operators know them by institution.
      let message = err.message;
      for (const [key, id] of byKey) message = message.split(key).join(id);
      throw new CreditMeshError(err.code, message, { field: "echoes", cause: err });
    }
    if (!state.dealer) return [];
    return dealRound2(state.dealer, state.verified!, this.d.signer);
  }

  #receive(state: CeremonyState, request: DkgRequest): Complaint[] {
    const index = state.myKey?.recipient;
    if (index === undefined) return [];
    const shares = request.shares.map(shareFromWire).filter((s) => s.recipient === index);
    const { accepted, complaints } = receiveRound2(state.verified!, index, state.recipientSecret!, shares, this.d.signer);
    state.accepted = accepted;
    state.myComplaints = complaints;
    return complaints;
  }

  async #finish(state: CeremonyState, request: DkgRequest): Promise<DkgResult> {
    const { opened } = state;
    const verified = state.verified!;
    const complaints = [...request.complaints.map(complaintFromWire), ...state.myComplaints];
    const verdicts = complaints.map((c) => judgeComplaint(verified, c));
    if (verdicts.length > 0) throw new CreditMeshError("CONFLICT", failedWith(opened, verdicts), { field: "complaints" });
    const key = committeeKey(verified, qualifiedDealers(verified));
    const publicKey = Buffer.from(key.publicKey, "hex");
    const index = state.myKey?.recipient;
    if (index === undefined) return { publicKey, index: 0, publicShare: Buffer.alloc(0) };
    const share = finishRecipient(verified, qualifiedDealers(verified), index, state.accepted!);
    const pub = Buffer.from(publicShareOf(share).bytes);
    if (pub.toString("hex") !== key.publicShares[index]) throw new CreditMeshError("INTERNAL", "the share made does not fit the committee's public shares");
    const entry: StoredShare = { epoch: opened.epoch, sessionId: opened.plan.sessionId, publicKey: key.publicKey, share };
    await this.d.vault.put(entry);
    await this.d.onStored?.(entry, opened);
    this.d.logger.info({ session: opened.plan.sessionId, epoch: opened.epoch, index, publicShare: pub.toString("hex") }, "token key share stored");
    return { publicKey, index, publicShare: pub };
  }
}

/** "no key made: dealer bank-b (index 2): the share does not match …" for the verdicts of a ceremony. */
export function failedWith(opened: OpenedPlan, verdicts: readonly Verdict[]): string {
  const named = verdicts.map((v) => {
    const id = (v.guilty === "dealer" ? opened.dealerIds : opened.recipientIds).get(v.index) ?? "?";
    return `${v.guilty} ${id} (index ${v.index}): ${v.reason}`;
  });
  return `ceremony ${opened.plan.sessionId} failed, no key made: ${[...new Set(named)].join("; ")}`;
}

/** True for the refusals that mean the ceremony itself failed (a culprit), not the transport. */
export function isCeremonyFailure(err: unknown): boolean {
  return isCreditMeshError(err, "CONFLICT");
}
