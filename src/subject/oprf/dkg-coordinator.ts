import { CreditMeshError, isCreditMeshError, type ErrorCode } from "../../errors.js";
import { DkgStep, type DkgAnswer, type DkgComplaint, type DkgEcho, type DkgEncryptedShare, type DkgRound1 } from "../../gen/creditmesh/v1/dkg.js";
import type { TokenCommittee } from "../../gen/creditmesh/v1/oprf.js";
import { committeeKey, judgeComplaint, qualifiedDealers, verifyRound1 } from "./dkg.js";
import { planParticipants, type OpenedPlan } from "./dkg-plan.js";
import { failedWith } from "./dkg-participant.js";
import { complaintFromWire } from "./dkg-wire.js";
import { SUITE_ID } from "./suite.js";

/** The participant's own error code: a peer's refusal arrives wrapped, with the code it sent as `remoteCode`. */
function refusedWith(err: unknown): string | undefined {
  const e = err as { remoteCode?: string; code?: string } | undefined;
  return e?.remoteCode ?? (isCreditMeshError(err) ? e?.code : undefined);
}

/** One step's content; the transport adds the plan, request id, nonce and time, and signs. */
export interface CeremonyStep {
  step: DkgStep;
  round1?: DkgRound1;
  echoes?: DkgEcho[];
  shares?: DkgEncryptedShare[];
  complaints?: DkgComplaint[];
}

/** The participants as the coordinator reaches them (p2p implements it; tests wire participants directly). */
export interface CeremonyPeers {
  send(institutionId: string, step: CeremonyStep, signal: AbortSignal): Promise<DkgAnswer>;
}

/**
 * Drives one ceremony from the coordinating member: every step goes to every
 * participant at once, and the next starts only when all have answered. The
 * coordinator only relays; each participant checks for itself, and the
 * committee returned is recomputed here from the public round-1 messages and
 * must equal what every recipient reports. A participant's refusal ends the
 * ceremony (CONFLICT when a participant or the messages are at fault, naming
 * them; UNAVAILABLE when one did not answer).
 */
export async function runCeremony(opened: OpenedPlan, peers: CeremonyPeers, signal: AbortSignal): Promise<TokenCommittee> {
  try {
    return await drive(opened, peers, signal);
  } catch (err) {
    // Best effort: the participants drop their secrets now instead of when the plan expires.
    const abort = AbortSignal.timeout(5_000);
    await Promise.allSettled(planParticipants(opened.plan).map((id) => peers.send(id, { step: DkgStep.DKG_STEP_ABORT }, abort)));
    throw err;
  }
}

async function drive(opened: OpenedPlan, peers: CeremonyPeers, signal: AbortSignal): Promise<TokenCommittee> {
  const { plan, session } = opened;
  const everyone = planParticipants(plan);
  const step = async (s: DkgStep, content: (id: string) => Omit<CeremonyStep, "step"> = () => ({}), ids = everyone): Promise<Map<string, DkgAnswer>> => {
    const settled = await Promise.allSettled(ids.map((id) => peers.send(id, { step: s, ...content(id) }, signal)));
    const failures = settled.flatMap((r, k) => (r.status === "rejected" ? [{ id: ids[k], err: r.reason as unknown }] : []));
    if (failures.length > 0) {
      const code: ErrorCode = failures.some((f) => refusedWith(f.err) === "CONFLICT") ? "CONFLICT" : "UNAVAILABLE";
      const why = failures.map((f) => `${f.id}: ${(f.err as Error).message}`).join("; ");
      throw new CreditMeshError(code, `ceremony ${plan.sessionId}, step ${DkgStep[s]}: ${why}`);
    }
    const answers = new Map<string, DkgAnswer>();
    settled.forEach((r, k) => answers.set(ids[k], (r as PromiseFulfilledResult<DkgAnswer>).value));
    return answers;
  };

  const round1: DkgRound1 = { commitments: [], recipientKeys: [] };
  for (const a of (await step(DkgStep.DKG_STEP_ROUND1)).values()) {
    round1.commitments.push(...(a.round1?.commitments ?? []));
    round1.recipientKeys.push(...(a.round1?.recipientKeys ?? []));
  }
  const echoes = [...(await step(DkgStep.DKG_STEP_ECHO, () => ({ round1 }))).values()].map((a) => a.echo).filter((e): e is DkgEcho => e !== undefined);
  const shares = [...(await step(DkgStep.DKG_STEP_DEAL, () => ({ echoes }))).values()].flatMap((a) => a.shares);
  const recipientIds = new Set(plan.recipients.map((r) => r.institutionId));
  const indexOf = new Map(plan.recipients.map((r) => [r.institutionId, r.index]));
  // Each recipient gets only the shares addressed to it; the others could not read them anyway.
  const received = await step(DkgStep.DKG_STEP_RECEIVE, (id) => ({ shares: recipientIds.has(id) ? shares.filter((s) => s.recipient === indexOf.get(id)) : [] }));
  const complaints = [...received.values()].flatMap((a) => a.complaints);

  const verified = verifyRound1(session, { commitments: round1.commitments, recipientKeys: round1.recipientKeys });
  if (complaints.length > 0) {
    const verdict = failedWith(opened, complaints.map((c) => judgeComplaint(verified, complaintFromWire(c))));
    // Sent anyway so that every participant judges the complaints and ends the ceremony.
    await step(DkgStep.DKG_STEP_FINISH, () => ({ complaints })).catch(() => undefined);
    throw new CreditMeshError("CONFLICT", verdict);
  }
  const results = await step(DkgStep.DKG_STEP_FINISH, () => ({ complaints: [] }));
  const key = committeeKey(verified, qualifiedDealers(verified));
  const evaluators = plan.recipients.map((r) => {
    const result = results.get(r.institutionId)?.result;
    const expected = key.publicShares[r.index];
    if (!result || Buffer.from(result.publicKey).toString("hex") !== key.publicKey || Buffer.from(result.publicShare).toString("hex") !== expected || result.index !== r.index) {
      throw new CreditMeshError("CONFLICT", `ceremony ${plan.sessionId}: ${r.institutionId} reports another key or share than its round-1 messages give`);
    }
    return { institutionId: r.institutionId, index: r.index, publicShare: Buffer.from(expected, "hex") };
  });
  return { suite: SUITE_ID, epoch: plan.epoch, threshold: plan.threshold, publicKey: Buffer.from(key.publicKey, "hex"), evaluators };
}
