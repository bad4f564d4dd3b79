import { randomUUID } from "node:crypto";
import type { Clock } from "../clock.js";
import { CreditMeshError, invalid } from "../errors.js";
import { ConsentStatus, Purpose } from "../gen/creditmesh/v1/common.js";
import type { Consent, Revocation } from "../gen/creditmesh/v1/consent.js";
import type { AuditTrail } from "../audit/trail.js";
import type { Logger } from "../logger.js";
import type { ConsentStore } from "../store/types.js";
import { screenFreeText } from "../subject/pii-screen.js";
import { signConsent, type Signer } from "./artefact.js";
import { sealRevocation } from "./revocation.js";
import { ANY_PURPOSE, checkConsent, DEFAULT_MAX_CLOCK_SKEW_MS, effectiveStatus, requireConsent } from "./policy.js";

const MAX_VALIDITY_MS = 5 * 366 * 24 * 3600 * 1000;

export interface GrantInput {
  subjectToken: string;
  purpose: Purpose;
  validFrom?: Date;
  validUntil?: Date;
  evidenceRef: string;
  /** The subject's name as the request gave it, so that evidence_ref cannot carry it. */
  subjectName?: string;
  /** Who asked (an API key id), for the audit trail; defaults to this institution. */
  actor?: string;
}

export interface ConsentServiceModules {
  store: ConsentStore;
  signer: Signer;
  clock: Clock;
  logger: Logger;
  /** Tells the other holders (gossip); absent on a node without peers. */
  publishRevocation?: (revocation: Revocation) => Promise<void>;
  audit?: AuditTrail;
  /**
   * During a token migration's transition: the subject's token now, given
   * the earlier token a consent signed before the migration binds.
   */
  currentTokenOf?: (earlierToken: string) => Promise<string | undefined>;
}

const SUBJECT_REQUEST_EVIDENCE = /^sha256:[0-9a-f]{64}$/;

/** Consents granted to this institution, issued and signed by this node. */
export class ConsentService {
  constructor(
    private readonly opts: { institutionId: string; maxClockSkewMs?: number },
    private readonly modules: ConsentServiceModules,
  ) {}

  private get skewMs(): number {
    return this.opts.maxClockSkewMs ?? DEFAULT_MAX_CLOCK_SKEW_MS;
  }

  async grant(input: GrantInput): Promise<Consent> {
    const now = this.modules.clock.now();
    if (!Object.values(Purpose).includes(input.purpose) || input.purpose === Purpose.PURPOSE_UNSPECIFIED || input.purpose === Purpose.UNRECOGNIZED) {
      throw invalid("purpose", "must be one of LOAN_ORIGINATION, CREDIT_LIMIT_REVIEW, POST_LOAN_MANAGEMENT, SUBJECT_REQUEST, FURNISHING");
    }
    const requestedFrom = input.validFrom ?? now;
    if (!input.validUntil) throw invalid("valid_until", "required");
    if (input.validUntil.getTime() <= requestedFrom.getTime()) throw invalid("valid_until", "must be after valid_from");
    if (input.validUntil.getTime() - requestedFrom.getTime() > MAX_VALIDITY_MS) throw invalid("valid_until", "at most 5 years after valid_from");
    // Without a start of its own, a consent is valid from its issue, as any
    // holder whose clock is behind this node's (within the allowed skew) sees it.
    const validFrom = input.validFrom ?? new Date(now.getTime() - this.skewMs);
    const evidenceRef = checkEvidenceRef(input.evidenceRef);
    if (input.purpose === Purpose.SUBJECT_REQUEST && !SUBJECT_REQUEST_EVIDENCE.test(evidenceRef)) {
      // It lets the holder name every inquirer: only the borrower's own signed request may open that.
      throw invalid("evidence_ref", "a SUBJECT_REQUEST consent needs the SHA-256 of the borrower's own signed request: sha256: and 64 lowercase hex characters");
    }
    // The artefact goes to every holder the lender queries.
    screenFreeText(evidenceRef, "evidence_ref", { names: [input.subjectName], today: now });
    const consent = signConsent(
      {
        consentId: randomUUID(),
        subjectToken: input.subjectToken,
        granteeInstitutionId: this.opts.institutionId,
        purpose: input.purpose,
        validFrom,
        validUntil: input.validUntil,
        evidenceRef,
        status: ConsentStatus.ACTIVE,
        issuedAt: now,
        signature: Buffer.alloc(0),
        revokedAt: undefined,
      },
      this.modules.signer,
    );
    await this.modules.store.put(consent);
    await this.modules.audit?.append("CONSENT_GRANTED", input.actor ?? this.opts.institutionId, {
      consentId: consent.consentId,
      subjectToken: consent.subjectToken,
      purpose: Purpose[consent.purpose] ?? String(consent.purpose),
      validUntil: input.validUntil.toISOString(),
    });
    this.modules.logger.info({ consentId: consent.consentId, subjectToken: consent.subjectToken, purpose: consent.purpose }, "consent granted");
    return consent;
  }

  async revoke(consentId: string, actor?: string): Promise<Consent> {
    if (!consentId) throw invalid("consent_id", "required");
    const consent = await this.modules.store.get(consentId);
    if (!consent || consent.granteeInstitutionId !== this.opts.institutionId) {
      throw new CreditMeshError("NOT_FOUND", `consent ${consentId} not found at this node`, { field: "consent_id" });
    }
    if (consent.status === ConsentStatus.REVOKED) return consent;
    const revokedAt = this.modules.clock.now();
    const revoked: Consent = { ...consent, status: ConsentStatus.REVOKED, revokedAt };
    // The consent, its revocation and the signed entry that members pull when
    // they missed the gossip (see p2p/revocation-sync.ts), in one batch.
    const { revocation } = await this.modules.store.putIssuedRevocation(revoked, (r) => sealRevocation(r, this.modules.signer));
    await this.modules.audit?.append("CONSENT_REVOKED", actor ?? this.opts.institutionId, {
      consentId,
      subjectToken: consent.subjectToken,
      revokedAt: revokedAt.toISOString(),
    });
    this.modules.logger.info({ consentId }, "consent revoked");
    if (this.modules.publishRevocation) {
      await this.modules.publishRevocation(revocation).catch((err) =>
        this.modules.logger.warn({ consentId, err: (err as Error).message }, "revocation broadcast failed; peers will pull it on reconnect"),
      );
    }
    return revoked;
  }

  /**
   * The subject's consents recorded at this node, newest first, each with its
   * status as of now (REVOKED, EXPIRED past valid_until, else as granted).
   */
  async listForSubject(subjectToken: string): Promise<Consent[]> {
    const now = this.modules.clock.now();
    const own = (await this.modules.store.listForSubject(subjectToken)).filter((c) => c.granteeInstitutionId === this.opts.institutionId);
    const listed = await Promise.all(
      own.map(async (c) => {
        const revokedAt = c.revokedAt ?? (await this.modules.store.getRevocation(c.granteeInstitutionId, c.consentId));
        return { ...c, status: effectiveStatus(c, now, revokedAt), revokedAt };
      }),
    );
    return listed.sort((a, b) => (b.issuedAt?.getTime() ?? 0) - (a.issuedAt?.getTime() ?? 0) || a.consentId.localeCompare(b.consentId));
  }

  /**
   * The requester's consent check, the one place it is made on this side:
   * the consent `consentId`, granted to this institution, for this subject
   * and purpose, not revoked, within its validity (the same rule every
   * holder applies, consent/policy.ts). CONSENT_DENIED naming the field.
   */
  async requireForQuery(consentId: string, use: { subjectToken: string; purpose: Purpose }): Promise<Consent> {
    const consent = consentId ? await this.modules.store.get(consentId) : undefined;
    if (!consent || consent.granteeInstitutionId !== this.opts.institutionId) {
      throw new CreditMeshError("CONSENT_DENIED", "no consent with this consent_id was granted to this institution", { field: "consent_id" });
    }
    // A consent signed under the subject's earlier token stays usable while this node's transition lasts: the query then names that token.
    const earlier = consent.subjectToken !== use.subjectToken && (await this.modules.currentTokenOf?.(consent.subjectToken)) === use.subjectToken;
    return requireConsent(consent, {
      requesterInstitutionId: this.opts.institutionId,
      subjectToken: earlier ? consent.subjectToken : use.subjectToken,
      purpose: use.purpose,
      now: this.modules.clock.now(),
      maxClockSkewMs: this.skewMs,
      revokedAt: consent.revokedAt ?? (await this.modules.store.getRevocation(consent.granteeInstitutionId, consentId)),
    });
  }

  /**
   * A consent the subject gave this institution that the consent rule allows
   * now for any purpose (a dispute filed on the borrower's behalf), the one
   * valid longest if several are; undefined if there is none.
   */
  async usableFor(subjectToken: string): Promise<Consent | undefined> {
    const now = this.modules.clock.now();
    let best: Consent | undefined;
    for (const c of await this.modules.store.listForSubject(subjectToken)) {
      const decision = checkConsent(c, {
        requesterInstitutionId: this.opts.institutionId,
        subjectToken,
        purpose: ANY_PURPOSE,
        now,
        maxClockSkewMs: this.skewMs,
        revokedAt: c.revokedAt ?? (await this.modules.store.getRevocation(c.granteeInstitutionId, c.consentId)),
      });
      if (decision.ok && (!best || c.validUntil!.getTime() > best.validUntil!.getTime())) best = c;
    }
    return best;
  }

  /** The consent with its status as of now (EXPIRED past valid_until). */
  async get(consentId: string): Promise<Consent | undefined> {
    const consent = await this.modules.store.get(consentId);
    if (!consent) return undefined;
    const revokedAt = await this.modules.store.getRevocation(consent.granteeInstitutionId, consentId);
    return { ...consent, status: effectiveStatus(consent, this.modules.clock.now(), revokedAt) };
  }
}

const EVIDENCE_REF_RULE = "8 to 128 printable ASCII characters without spaces identifying the signed authorization (e.g. sha256: and its hash)";

/** The reference to the borrower's signed authorization, trimmed; the error says which part of the rule it breaks, never echoing it. */
function checkEvidenceRef(raw: string): string {
  const ref = raw.trim();
  if (ref === "") throw invalid("evidence_ref", `required: ${EVIDENCE_REF_RULE}`);
  const chars = [...ref];
  const outside = chars.findIndex((c) => !/^[\x21-\x7e]$/.test(c));
  if (outside >= 0) {
    const what = /\s/.test(chars[outside]) ? "a space" : "a character outside printable ASCII";
    throw invalid("evidence_ref", `found ${what} at position ${outside + 1}; must be ${EVIDENCE_REF_RULE}`);
  }
  if (ref.length < 8 || ref.length > 128) throw invalid("evidence_ref", `must be ${EVIDENCE_REF_RULE}, got ${ref.length}`);
  return ref;
}
