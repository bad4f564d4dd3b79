import type { Purpose } from "../gen/creditmesh/v1/common.js";
import type { QueryRequest } from "../gen/creditmesh/v1/peer.js";
import type { Inquiry, InquiryProof } from "../gen/creditmesh/v1/report.js";
import { sha256 } from "../tlog/sha256.js";
import { isInquirerPseudonym } from "./inquirer.js";

/**
 * The requester's proof of an inquiry. A holder answers with the inquiries it
 * logged, and nothing but the holder vouched for them: a holder could invent
 * inquiries by other members and inflate a borrower's multi-lending counts.
 * So a requester signs, with its node key, a statement of each query it sends
 * — the inquiry id (its request id), itself, the subject token, the purpose and
 * when it asked — followed by the SHA-256 of the whole query body. That one
 * signature is the query envelope's own (QueryRequest.inquiry_proof = 1), so it
 * costs neither side an extra signature or verification; the holder keeps it
 * with the inquiry, and any later lender checks it against the requester's
 * key from the manifest.
 *
 * The statement is a JSON array, so no field can run into the next.
 */
export const INQUIRY_PROOF_V1 = 1;
const STATEMENT_TAG = "creditmesh/inquiry/1";

/**
 * How far the holder's logged time may lie from the time the requester
 * signed: a holder refuses queries outside its clock skew (one minute by
 * default), so an honest one is always far inside this. A holder cannot move
 * an inquiry by more than this.
 */
export const INQUIRY_PROOF_TIME_TOLERANCE_MS = 60 * 60_000;

export interface InquiryStatement {
  inquiryId: string;
  requesterInstitutionId: string;
  subjectToken: string;
  purpose: Purpose;
  issuedAt: Date;
}

export function inquiryStatementBytes(s: InquiryStatement, queryDigest: Uint8Array): Uint8Array {
  const text = STATEMENT_TAG + JSON.stringify([s.inquiryId, s.requesterInstitutionId, s.subjectToken, s.purpose, s.issuedAt.getTime(), Buffer.from(queryDigest).toString("hex")]);
  return new TextEncoder().encode(text);
}

/** What a query's envelope signature covers: the inquiry statement and the body's digest (v1), or the body itself. */
export function querySignedBytes(body: Uint8Array, query: QueryRequest): Uint8Array {
  if (query.inquiryProof !== INQUIRY_PROOF_V1 || !query.issuedAt) return body;
  return inquiryStatementBytes(
    { inquiryId: query.requestId, requesterInstitutionId: query.requesterInstitutionId, subjectToken: query.subjectToken, purpose: query.purpose, issuedAt: query.issuedAt },
    sha256(body),
  );
}

/** The proof a holder keeps with the inquiry of a query whose envelope carries `signature`; undefined for a query of the earlier kind. */
export function inquiryProofOf(body: Uint8Array, query: QueryRequest, signature: Uint8Array): InquiryProof | undefined {
  if (query.inquiryProof !== INQUIRY_PROOF_V1 || !query.issuedAt) return undefined;
  return { issuedAt: query.issuedAt, queryDigest: Buffer.from(sha256(body)), signature: Buffer.from(signature) };
}

export interface InquiryProofContext {
  /** Every member's institution id, for finding whose pseudonym an inquiry carries. */
  memberIds: () => readonly string[];
  /** A member's peer id (its node key), from the manifest; undefined for a non-member. */
  peerIdOf: (institutionId: string) => string | undefined;
  /**
   * The pseudonym a member's inquiries about the subject carry
   * (report/inquirer.ts). Absent where it cannot be computed (an offline
   * check of a report from a network on a shared HMAC token key): a
   * pseudonymous inquiry is then proven when some member's key verifies it.
   */
  pseudonymOf?: (subjectToken: string, institutionId: string) => string;
  /** Ed25519 verification by peer id (a cache of verified signatures in a node: one inquiry is in many answers). */
  verify: (peerId: string, data: Uint8Array, signature: Uint8Array) => boolean;
}

/**
 * Pseudonym → member tables kept, one per subject (the last checked). A table
 * holds one entry per member (~130 bytes): at 1,000 members these 256 are
 * ~33 MB, where 1,024 were ~130 MB. A lender's reports are mostly about
 * different borrowers, so a larger cache would mostly hold tables never read again.
 */
const CACHED_SUBJECTS = 256;

/**
 * Checks inquiries' proofs for the reports of one node (or one `verify` run).
 * An inquiry is proven when its requester — shown by name, or by the
 * pseudonym one member has for this subject — is a member, its proof's
 * signature by that member's key verifies over the statement of this
 * inquiry, and the holder's time is within the tolerance of the signed one.
 */
export class InquiryProofs {
  readonly #byPseudonym = new Map<string, { members: readonly string[]; table: Map<string, string> }>();

  constructor(private readonly ctx: InquiryProofContext) {}

  proven(q: Inquiry, subjectToken: string): boolean {
    return this.verdict(q, subjectToken) === "PROVEN";
  }

  /**
   * PROVEN; BAD_SIGNATURE when a signature was checked and did not verify
   * (what made-up proofs cost); UNPROVEN when there was nothing to verify (no
   * proof, a malformed one, a requester that is no member).
   */
  verdict(q: Inquiry, subjectToken: string): "PROVEN" | "BAD_SIGNATURE" | "UNPROVEN" {
    const proof = q.requesterProof;
    if (!proof?.issuedAt || !q.inquiredAt || proof.queryDigest.length !== 32) return "UNPROVEN";
    if (Math.abs(q.inquiredAt.getTime() - proof.issuedAt.getTime()) > INQUIRY_PROOF_TIME_TOLERANCE_MS) return "UNPROVEN";
    const candidates = !isInquirerPseudonym(q.requesterInstitutionId)
      ? [q.requesterInstitutionId]
      : this.ctx.pseudonymOf
        ? [this.#memberBehind(subjectToken, q.requesterInstitutionId, this.ctx.pseudonymOf)].filter((id) => id !== undefined)
        : this.ctx.memberIds();
    let checked = false;
    const proven = candidates.some((requester) => {
      const peerId = this.ctx.peerIdOf(requester);
      if (peerId === undefined) return false;
      const statement = inquiryStatementBytes(
        { inquiryId: q.inquiryId, requesterInstitutionId: requester, subjectToken, purpose: q.purpose, issuedAt: proof.issuedAt! },
        proof.queryDigest,
      );
      checked = true;
      return this.ctx.verify(peerId, statement, proof.signature);
    });
    return proven ? "PROVEN" : checked ? "BAD_SIGNATURE" : "UNPROVEN";
  }

  #memberBehind(subjectToken: string, pseudonym: string, pseudonymOf: (subjectToken: string, institutionId: string) => string): string | undefined {
    const members = this.ctx.memberIds();
    let cached = this.#byPseudonym.get(subjectToken);
    // A manifest that changed since (a member added) gets the subject's table built again.
    if (cached === undefined || cached.members !== members) {
      cached = { members, table: new Map(members.map((id) => [pseudonymOf(subjectToken, id), id])) };
      if (this.#byPseudonym.size >= CACHED_SUBJECTS) this.#byPseudonym.delete(this.#byPseudonym.keys().next().value!);
      this.#byPseudonym.set(subjectToken, cached);
    }
    return cached.table.get(pseudonym);
  }
}

/** Signatures in one holder's answer that may fail before its remaining inquiries are refused unverified. */
export const MAX_FAILED_PROOFS_PER_ANSWER = 4;

/**
 * The rule one report takes other holders' inquiries by (`takeInquiries`),
 * the same for the lender that assembles it and for `verify`: an inquiry
 * counts when its proof verifies. An honest holder's proofs all verify (an
 * inquiry logged before proofs carries none, which costs nothing to refuse),
 * so once a few signatures in one holder's answer have failed, its other
 * inquiries are refused without verifying: up to 200 made-up signatures per
 * answer would otherwise cost 200 Ed25519 verifications per report.
 * `onUnproven` is told of each inquiry refused, by holder.
 */
export function provenInReport(
  proofs: Pick<InquiryProofs, "verdict">,
  subjectToken: string,
  onUnproven?: (holderInstitutionId: string) => void,
): (q: Inquiry, holderInstitutionId: string) => boolean {
  const failed = new Map<string, number>();
  return (q, holder) => {
    const failures = failed.get(holder) ?? 0;
    const verdict = failures < MAX_FAILED_PROOFS_PER_ANSWER ? proofs.verdict(q, subjectToken) : "BAD_SIGNATURE";
    if (verdict === "PROVEN") return true;
    if (verdict === "BAD_SIGNATURE") failed.set(holder, failures + 1);
    onUnproven?.(holder);
    return false;
  };
}
