import { createHash } from "node:crypto";
import { CreditMeshError, type ErrorCode } from "../../errors.js";
import {
  OprfRefusal, oprfRefusalToJSON, TokenPurpose as WirePurpose, type OprfAnswer, type TokenCommittee,
} from "../../gen/creditmesh/v1/oprf.js";
import { Committee } from "./committee.js";
import { SUITE_ID } from "./suite.js";
import type { EvaluationAnswer, TokenPurpose } from "./tokenizer.js";

/** Translation between /creditmesh/oprf/1.0.0 messages and the token core. */

const PURPOSES: Record<TokenPurpose, WirePurpose> = {
  ONBOARD: WirePurpose.TOKEN_PURPOSE_ONBOARD,
  LOOKUP: WirePurpose.TOKEN_PURPOSE_LOOKUP,
  BULK: WirePurpose.TOKEN_PURPOSE_BULK,
  REINDEX: WirePurpose.TOKEN_PURPOSE_REINDEX,
};

export function purposeToWire(p: TokenPurpose): WirePurpose {
  return PURPOSES[p];
}

export function purposeFromWire(p: WirePurpose): TokenPurpose | undefined {
  return (Object.keys(PURPOSES) as TokenPurpose[]).find((k) => PURPOSES[k] === p);
}

export function committeeFromWire(m: TokenCommittee, field = "token_committee"): Committee {
  if (m.suite !== SUITE_ID) {
    throw new CreditMeshError("VALIDATION_FAILED", `${field}.suite: must be ${SUITE_ID}, got ${m.suite || "(empty)"}`, { field: `${field}.suite` });
  }
  return new Committee(
    {
      epoch: Number(m.epoch),
      threshold: m.threshold,
      publicKey: m.publicKey,
      members: m.evaluators.map((e) => ({ institutionId: e.institutionId, index: e.index, publicShare: e.publicShare })),
    },
    field,
  );
}

/** What an evaluator binds its answer to: the exact request bytes it verified. */
export function requestHash(requestBytes: Uint8Array): Buffer {
  return createHash("sha256").update(requestBytes).digest();
}

const REFUSAL_CODES: Partial<Record<OprfRefusal, ErrorCode>> = {
  [OprfRefusal.OPRF_REFUSAL_NOT_MEMBER]: "MEMBERSHIP_DENIED",
  [OprfRefusal.OPRF_REFUSAL_NOT_EVALUATOR]: "MEMBERSHIP_DENIED",
  [OprfRefusal.OPRF_REFUSAL_BAD_REQUEST]: "VALIDATION_FAILED",
  [OprfRefusal.OPRF_REFUSAL_WRONG_EPOCH]: "CONFLICT",
  [OprfRefusal.OPRF_REFUSAL_REPLAYED]: "P2P_PROTOCOL",
  [OprfRefusal.OPRF_REFUSAL_STALE]: "P2P_PROTOCOL",
  [OprfRefusal.OPRF_REFUSAL_QUOTA_EXCEEDED]: "RATE_LIMITED",
};

/**
 * An evaluator's (signature-checked) answer as the tokenizer takes it, or the
 * refusal as an error: an answer to another request is refused here, before
 * any proof is checked.
 */
export function answerFromWire(a: OprfAnswer, sentRequestHash: Uint8Array): EvaluationAnswer {
  if (a.refusal !== OprfRefusal.OPRF_REFUSAL_UNSPECIFIED) {
    const code = REFUSAL_CODES[a.refusal] ?? "P2P_PROTOCOL";
    throw new CreditMeshError(code, `evaluator ${a.evaluatorInstitutionId} refused: ${oprfRefusalToJSON(a.refusal)}${a.refusalReason ? ` (${a.refusalReason})` : ""}`,
      a.refusalField ? { field: a.refusalField } : {});
  }
  if (!Buffer.from(a.requestHash).equals(Buffer.from(sentRequestHash))) {
    throw new CreditMeshError("P2P_PROTOCOL", `evaluator ${a.evaluatorInstitutionId} answered another request`);
  }
  return { evaluatorId: a.evaluatorInstitutionId, epoch: Number(a.epoch), evaluatedElements: a.evaluatedElements, proof: a.proof };
}
