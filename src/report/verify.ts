import { HolderStatus, holderStatusToJSON } from "../gen/creditmesh/v1/common.js";
import { checkAnswerProof } from "../tlog/answer-proof.js";
import { type CreditReport, HolderAnswer, type HolderOutcome, Inquiry, Score, Summary, Tradeline } from "../gen/creditmesh/v1/report.js";
import { answerContentProblem } from "./answer-content.js";
import { contributes, ownTradelines, takeInquiries } from "./assemble.js";
import { provenInReport, type InquiryProofs } from "./inquiry-proof.js";
import { mergeInquiries, tradelineKey } from "./merge.js";
import { MODEL_VERSION, scoreReport } from "./score.js";
import { summarize } from "./summary.js";
import { checkWitnessed, type CosignedLogEntry, type WitnessPolicy } from "./witnessed-checkpoints.js";

export interface VerifyOptions {
  /** The member's Ed25519 public key from the manifest; undefined when it is not a member. */
  memberPublicKey: (institutionId: string) => Uint8Array | undefined;
  verify: (publicKey: Uint8Array, data: Uint8Array, sig: Uint8Array) => boolean;
  /**
   * An OK or NO_DATA answer from any member but the requester itself must
   * carry a log proof (a requester running tlog.answerProofs refuses answers
   * without one). Off: an answer without a proof is reported, not failed.
   */
  requireProofs?: boolean;
  /**
   * Checkpoints the holders' witnesses cosigned (an auditor's file): every
   * verified log proof's checkpoint must then be one of them or a proved
   * prefix of one, cosigned by the policy's quorum.
   */
  witnessed?: { logs: readonly CosignedLogEntry[]; policy: WitnessPolicy };
  /** Checks other holders' inquiries against their requesters' proofs, as the requester did (report/inquiry-proof.ts). */
  inquiryProofs?: Pick<InquiryProofs, "verdict">;
}

/**
 * The log proof in a holder's signed answer. VERIFIED: the checkpoint is
 * signed by the holder's key and the inquiry leaf and every tradeline's record
 * leaf (where the holder logged one) are included in it. ABSENT: the answer
 * carries none. FAILED: it carries one that does not verify (or none where
 * one is required). NONE: nothing to prove (no verified answer, a refusal).
 */
export type ProofState = "VERIFIED" | "ABSENT" | "FAILED" | "NONE";

/**
 * VERIFIED: the holder's signature covers this part. FAILED: it should be
 * covered and is not. UNSIGNED: a holder that gave no answer (DENIED without
 * a signature, TIMEOUT, UNREACHABLE, ERROR) has nothing to verify; its
 * absence from the report is not a failure.
 */
export type CheckState = "VERIFIED" | "FAILED" | "UNSIGNED";

export interface HolderVerification {
  institutionId: string;
  status: string;
  state: CheckState;
  verified: boolean;
  reason: string;
  proof: ProofState;
  /** What the proof covers (checkpoint size, records proved), or why it failed. */
  proofReason: string;
  /** The proof's checkpoint against the cosigned ones: NONE when no cosigned checkpoints were given or there is no verified proof. */
  witnessed: "VERIFIED" | "FAILED" | "NONE";
  witnessReason: string;
}

export interface TradelineVerification {
  institutionId: string;
  accountRef: string;
  /** false for a tradeline a holder signed that the report leaves out. */
  inReport: boolean;
  verified: boolean;
  reason: string;
}

export interface InquiryVerification {
  inquiryId: string;
  verified: boolean;
  reason: string;
}

export interface DerivedCheck {
  verified: boolean;
  reason: string;
}

export interface VerificationResult {
  ok: boolean;
  holders: HolderVerification[];
  tradelines: TradelineVerification[];
  inquiries: InquiryVerification[];
  /** The summary recomputed from the verified tradelines and signed inquiries. */
  summary: DerivedCheck;
  /** The score recomputed with this verifier's model, which must be the report's. */
  score: DerivedCheck;
  /** One line per failure, naming what failed and why. */
  failures: string[];
}

interface VerifiedAnswer {
  institutionId: string;
  answer: HolderAnswer;
}

/** Checks a saved report against its holders' signatures, without any network. */
export function verifyReport(report: CreditReport, opts: VerifyOptions): VerificationResult {
  const verifiedAnswers: VerifiedAnswer[] = [];
  const holderFailure = new Map<string, string>();
  const holders = report.holders.map((outcome): HolderVerification => {
    const check = verifyHolder(report, outcome, opts);
    if (check.answer && contributes(outcome)) verifiedAnswers.push({ institutionId: outcome.institutionId, answer: check.answer });
    if (check.state === "FAILED") holderFailure.set(outcome.institutionId, check.reason);
    return {
      institutionId: outcome.institutionId,
      status: holderStatusToJSON(outcome.status),
      state: check.state,
      verified: check.state === "VERIFIED",
      reason: check.reason,
      proof: check.proof ?? "NONE",
      proofReason: check.proofReason ?? "",
      witnessed: check.witnessed ?? "NONE",
      witnessReason: check.witnessReason ?? "",
    };
  });

  const tradelines = verifyTradelines(report.tradelines, verifiedAnswers, holderFailure);
  // The inquiries the requester could take (assemble.ts): a holder's signature alone does not make one count.
  const signedInquiries: Inquiry[] = [];
  const proven = opts.inquiryProofs && provenInReport(opts.inquiryProofs, report.subjectToken);
  for (const v of verifiedAnswers) takeInquiries(signedInquiries, v.institutionId, report.requesterInstitutionId, v.answer, proven);
  const inquiries = report.inquiries.map((q) => verifyInquiry(q, signedInquiries));
  const allInquiries = mergeInquiries(signedInquiries, new Map(), report.asOf);
  const summary = verifySummary(report, allInquiries);
  const score = verifyScore(report, allInquiries);

  const failures = [
    ...holders.filter((h) => h.state === "FAILED").map((h) => `holder ${h.institutionId}: ${h.reason}`),
    ...tradelines.filter((t) => !t.verified).map((t) => `tradeline ${t.institutionId}/${t.accountRef}: ${t.reason}`),
    ...inquiries.filter((q) => !q.verified).map((q) => `inquiry ${q.inquiryId}: ${q.reason}`),
    ...(summary.verified ? [] : [`summary: ${summary.reason}`]),
    ...(score.verified ? [] : [`score: ${score.reason}`]),
  ];
  return { ok: failures.length === 0, holders, tradelines, inquiries, summary, score, failures };
}

interface HolderCheck {
  state: CheckState;
  reason: string;
  answer?: HolderAnswer;
  proof?: ProofState;
  proofReason?: string;
  witnessed?: "VERIFIED" | "FAILED";
  witnessReason?: string;
}

function verifyHolder(report: CreditReport, outcome: HolderOutcome, opts: VerifyOptions): HolderCheck {
  const signed = outcome.signedAnswer.length > 0 && outcome.signature.length > 0;
  if (outcome.status === HolderStatus.SKIPPED) {
    // Not asked, so nothing can be signed; a SKIPPED outcome that carries an answer is not what the requester produces.
    return signed || outcome.tradelines > 0
      ? { state: "FAILED", reason: "SKIPPED (not asked) but carries an answer or tradelines" }
      : { state: "UNSIGNED", reason: `not asked: ${outcome.reason || "its filter excludes the subject"}` };
  }
  if (!signed) {
    return contributes(outcome)
      ? { state: "FAILED", reason: `status ${holderStatusToJSON(outcome.status)} but no signed answer and signature` }
      : { state: "UNSIGNED", reason: `no answer (${holderStatusToJSON(outcome.status)}): nothing signed to verify` };
  }
  const publicKey = opts.memberPublicKey(outcome.institutionId);
  if (!publicKey) return { state: "FAILED", reason: "not a member of the manifest: no public key" };
  let valid: boolean;
  try {
    valid = opts.verify(publicKey, outcome.signedAnswer, outcome.signature);
  } catch (err) {
    return { state: "FAILED", reason: `signature could not be checked: ${(err as Error).message}` };
  }
  if (!valid) return { state: "FAILED", reason: "signature does not match the signed answer" };

  let answer: HolderAnswer;
  try {
    answer = HolderAnswer.decode(outcome.signedAnswer);
  } catch (err) {
    return { state: "FAILED", reason: `signed answer does not decode: ${(err as Error).message}` };
  }
  const mismatch = bindingMismatch(report, outcome, answer);
  if (mismatch) return { state: "FAILED", reason: mismatch };
  // A requester refuses such an answer before it assembles a report: a saved report carrying one was not made by an honest node.
  const content = answerContentProblem(answer, report.reportId);
  if (content) return { state: "FAILED", reason: `signed answer carries what no holder sends: ${content}` };
  // Offline the query's own bytes are gone: the inquiry leaf is recomputed from the hash the holder signed.
  const required = (opts.requireProofs ?? false) && outcome.institutionId !== report.requesterInstitutionId;
  const proof = checkAnswerProof(answer, { publicKey, required });
  if (proof.problem) return { state: "FAILED", reason: `proof: ${proof.problem}`, proof: "FAILED", proofReason: proof.problem };
  if (!proof.proved) {
    const answered = answer.status === HolderStatus.OK || answer.status === HolderStatus.NO_DATA;
    return { state: "VERIFIED", reason: "signature valid; answer is for this report", answer, proof: answered ? "ABSENT" : "NONE", proofReason: answered ? "no log proof" : "" };
  }
  const proofReason =
    `inquiry and ${proof.recordsProved} record leaves in checkpoint ${proof.checkpoint!.size}` +
    (proof.recordsUnlogged > 0 ? `; ${proof.recordsUnlogged} tradelines without a record leaf (the holder says why)` : "");
  const verified: HolderCheck = { state: "VERIFIED", reason: "signature valid; answer is for this report; log proof verified", answer, proof: "VERIFIED", proofReason };
  if (!opts.witnessed) return verified;
  const witness = checkWitnessed(outcome.institutionId, publicKey, proof.checkpoint!, opts.witnessed.logs, opts.witnessed.policy);
  if (witness.state === "FAILED") {
    return { ...verified, state: "FAILED", reason: `witnessed: ${witness.reason}`, witnessed: "FAILED", witnessReason: witness.reason };
  }
  return { ...verified, reason: `${verified.reason}; checkpoint witnessed`, witnessed: "VERIFIED", witnessReason: witness.reason };
}

/** A valid signature over an answer to some other query proves nothing about this report. */
function bindingMismatch(report: CreditReport, outcome: HolderOutcome, answer: HolderAnswer): string | undefined {
  const expected: [string, string, string][] = [
    ["holder_institution_id", answer.holderInstitutionId, outcome.institutionId],
    ["subject_token", answer.subjectToken, report.subjectToken],
    ["as_of", answer.asOf, report.asOf],
    ["request_id", answer.requestId, report.reportId],
    ["requester_institution_id", answer.requesterInstitutionId, report.requesterInstitutionId],
    ["status", holderStatusToJSON(answer.status), holderStatusToJSON(outcome.status)],
  ];
  const wrong = expected.find(([, signed, shown]) => signed !== shown);
  if (wrong) return `signed answer has ${wrong[0]} "${wrong[1]}", the report shows "${wrong[2]}"`;
  // 0 in a report from a node that predates the field.
  if (outcome.tradelinesTotal !== 0 && outcome.tradelinesTotal !== Math.max(outcome.tradelines, answer.tradelinesTotal)) {
    return `signed answer has tradelines_total ${answer.tradelinesTotal}, the report shows ${outcome.tradelinesTotal}`;
  }
  return undefined;
}

function verifyTradelines(
  shown: readonly Tradeline[],
  answers: readonly VerifiedAnswer[],
  holderFailure: ReadonlyMap<string, string>,
): TradelineVerification[] {
  const signed = new Map<string, Tradeline[]>();
  const signedBy = new Set<string>();
  for (const { institutionId, answer } of answers) {
    signedBy.add(institutionId);
    for (const tl of ownTradelines(institutionId, answer)) {
      const key = tradelineKey(tl);
      signed.set(key, [...(signed.get(key) ?? []), tl]);
    }
  }

  const seen = new Set<string>();
  const results: TradelineVerification[] = shown.map((tl) => {
    const key = tradelineKey(tl);
    const result = (verified: boolean, reason: string): TradelineVerification => ({
      institutionId: tl.institutionId,
      accountRef: tl.accountRef,
      inReport: true,
      verified,
      reason,
    });
    if (seen.has(key)) return result(false, "appears more than once in the report");
    seen.add(key);
    if (!signedBy.has(tl.institutionId)) {
      const why = holderFailure.get(tl.institutionId);
      return result(false, why ? `holder's answer is not verified (${why})` : "no verified signed answer from its holder");
    }
    const candidates = signed.get(key);
    if (!candidates) return result(false, "not in its holder's signed answer");
    const bytes = Tradeline.encode(tl).finish();
    if (candidates.some((c) => Buffer.compare(Tradeline.encode(c).finish(), bytes) === 0)) {
      return result(true, "matches the holder's signed answer");
    }
    return result(false, `differs from the holder's signed answer: ${describeDifferences(candidates[0], tl)}`);
  });

  for (const [key, [tl]] of signed) {
    if (seen.has(key)) continue;
    results.push({
      institutionId: tl.institutionId,
      accountRef: tl.accountRef,
      inReport: false,
      verified: false,
      reason: "signed by its holder but missing from the report",
    });
  }
  return results;
}

function describeDifferences(signed: Tradeline, shown: Tradeline): string {
  const a = Tradeline.toJSON(signed) as Record<string, unknown>;
  const b = Tradeline.toJSON(shown) as Record<string, unknown>;
  const fields = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
  const diffs = fields
    .filter((f) => JSON.stringify(a[f]) !== JSON.stringify(b[f]))
    .map((f) => `${snakeCase(f)} signed ${JSON.stringify(a[f] ?? null)}, report ${JSON.stringify(b[f] ?? null)}`);
  return diffs.length > 0 ? diffs.join("; ") : "encoding differs";
}

/** The proto field name, as the reader of a saved report knows it. */
function snakeCase(field: string): string {
  return field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`).replace(/([a-z])(\d)/g, "$1_$2");
}

function verifyInquiry(q: Inquiry, signed: readonly Inquiry[]): InquiryVerification {
  // The requester's name is filled in from the manifest after signing.
  const bytes = Inquiry.encode({ ...q, requesterName: "" }).finish();
  const match = signed.some(
    (s) => s.inquiryId === q.inquiryId && Buffer.compare(Inquiry.encode({ ...s, requesterName: "" }).finish(), bytes) === 0,
  );
  return match
    ? { inquiryId: q.inquiryId, verified: true, reason: "matches a holder's signed answer" }
    : { inquiryId: q.inquiryId, verified: false, reason: "not in any verified signed answer" };
}

function verifySummary(report: CreditReport, inquiries: readonly Inquiry[]): DerivedCheck {
  if (!report.summary) return { verified: false, reason: "the report has no summary" };
  let expected: Summary;
  try {
    expected = summarize(report.tradelines, inquiries, report.asOf);
  } catch (err) {
    return { verified: false, reason: `cannot be recomputed: ${(err as Error).message}` };
  }
  return sameMessage(Summary, expected, report.summary);
}

function verifyScore(report: CreditReport, inquiries: readonly Inquiry[]): DerivedCheck {
  if (!report.score) return { verified: false, reason: "the report has no score" };
  if (report.score.modelVersion !== MODEL_VERSION) {
    return { verified: false, reason: `model ${report.score.modelVersion} cannot be recomputed by model ${MODEL_VERSION}` };
  }
  let expected: Score;
  try {
    const summary = summarize(report.tradelines, inquiries, report.asOf);
    expected = scoreReport({ tradelines: report.tradelines, inquiries, summary, asOf: report.asOf });
  } catch (err) {
    return { verified: false, reason: `cannot be recomputed: ${(err as Error).message}` };
  }
  return sameMessage(Score, expected, report.score);
}

function sameMessage<T>(type: { encode(m: T): { finish(): Uint8Array }; toJSON(m: T): unknown }, expected: T, shown: T): DerivedCheck {
  if (Buffer.compare(type.encode(expected).finish(), type.encode(shown).finish()) === 0) {
    return { verified: true, reason: "recomputed from the verified data" };
  }
  const a = type.toJSON(expected) as Record<string, unknown>;
  const b = type.toJSON(shown) as Record<string, unknown>;
  const fields = [...new Set([...Object.keys(a), ...Object.keys(b)])]
    .sort()
    .filter((f) => JSON.stringify(a[f]) !== JSON.stringify(b[f]))
    .map((f) => `${snakeCase(f)} recomputed ${JSON.stringify(a[f] ?? null)}, report ${JSON.stringify(b[f] ?? null)}`);
  return { verified: false, reason: `differs from a recomputation: ${fields.join("; ")}` };
}

