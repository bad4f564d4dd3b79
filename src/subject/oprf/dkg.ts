import { createHash, randomBytes } from "node:crypto";
import sodium from "sodium-native";
import { ristretto255 } from "@noble/curves/ed25519.js";
import { CreditMeshError } from "../../errors.js";
import { verifySignature } from "../../identity/node-key.js";
import { decodeElement, elementFromBytes, InvalidElementError } from "./group.js";
import { checkThreshold, evaluatePolynomial, lagrangeAtZero, randomPolynomial } from "./shamir.js";
import { Fn, hashToScalar, privateTags, randomScalar, scalarFromBytes, scalarToBytes, type Scalar } from "./suite.js";
import type { KeyShare } from "./threshold.js";
import { evaluateBatch, verifyBatch } from "./voprf.js";

/**
 * Dealerless generation of the committee's OPRF key (Pedersen DKG, as in
 * FROST's key generation), and resharing it to a new committee.
 *
 * Round 1: each dealer commits to a random polynomial (Feldman commitments
 * a_k·G) with a Schnorr proof that it knows a_0; each recipient announces an
 * encryption key. Everything is signed with the member's Ed25519 node key.
 * Then every participant signs the digest of the round-1 set it received
 * (echo); one differing digest stops the run, so no dealer can show two
 * members different commitments. Round 2: each dealer sends f(j) to
 * recipient j, encrypted (ephemeral ristretto255 ECDH + XChaCha20-Poly1305)
 * and signed. A recipient whose share does not match the commitments
 * complains by revealing the ECDH secret with a DLEQ proof, so anyone can
 * decrypt that one share and tell whether the dealer or the complainer lied.
 *
 * Resharing is the same run with each old member dealing its own share as
 * a_0 (its commitment must equal its published public share): recipients
 * interpolate the first t_old qualified dealers' contributions, so the key
 * (and every token) stays, while the new polynomial is fresh and old shares
 * no longer fit it.
 *
 * Messages are plain JSON-ready objects (hex fields); transport is the
 * caller's, as long as it delivers round-1 messages to every participant.
 */

const RP = ristretto255.Point;
type Point = InstanceType<typeof RP>;

export interface Participant {
  /** Shamir index in its committee, 1..n. */
  index: number;
  /** Ed25519 node public key that signs this participant's messages. */
  signingKey: Uint8Array;
}

export interface Signer {
  readonly publicKey: Uint8Array;
  sign(data: Uint8Array): Uint8Array;
}

export interface ReshareOf {
  /** Threshold of the committee handing over. */
  threshold: number;
  /** Group public key (hex), which must not change. */
  publicKey: string;
  /** Old committee's public shares by index (hex). */
  publicShares: Readonly<Record<number, string>>;
}

export interface DkgSession {
  /** Unique per run (network, epoch, attempt); bound into every signature and key derivation. */
  id: string;
  /** Threshold of the committee being created. */
  threshold: number;
  dealers: readonly Participant[];
  recipients: readonly Participant[];
  reshare?: ReshareOf;
}

export interface DealerCommitment {
  session: string;
  dealer: number;
  /** a_k·G for k = 0..t-1, hex. */
  commitments: string[];
  /** Schnorr proof of knowledge of a_0: R and z, hex. */
  proofR: string;
  proofZ: string;
  signature: string;
}

export interface RecipientKey {
  session: string;
  recipient: number;
  encryptionKey: string;
  signature: string;
}

export interface Round1 {
  commitments: DealerCommitment[];
  recipientKeys: RecipientKey[];
}

export interface Echo {
  session: string;
  /** The echoing member's node key, hex. */
  signer: string;
  digest: string;
  signature: string;
}

export interface EncryptedShare {
  session: string;
  dealer: number;
  recipient: number;
  ephemeralKey: string;
  nonce: string;
  ciphertext: string;
  signature: string;
}

export interface Complaint {
  session: string;
  dealer: number;
  recipient: number;
  /** The share as the dealer signed it; absent when none arrived. */
  share?: EncryptedShare;
  /** e_j·Y, the ECDH secret of that one share, and the proof it is (hex). */
  sharedSecret?: string;
  proof?: string;
  signature: string;
}

export interface Verdict {
  guilty: "dealer" | "recipient";
  index: number;
  reason: string;
}

export interface DealerState {
  session: DkgSession;
  index: number;
  coefficients: Scalar[];
}

/** Round 1 checked: decoded commitments of the dealers that passed, and who did not and why. */
export interface VerifiedRound1 {
  session: DkgSession;
  commitments: Map<number, Point[]>;
  recipientKeys: Map<number, Uint8Array>;
  disqualified: Map<number, string>;
}

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const unhex = (s: string) => Buffer.from(s, "hex");
const POK_TAGS = privateTags("CreditMesh-DKG-pok-v1");
const COMPLAINT_TAGS = privateTags("CreditMesh-DKG-complaint-v1");

function payload(kind: string, ...fields: unknown[]): Uint8Array {
  return Buffer.from(JSON.stringify(["creditmesh-dkg/v1", kind, ...fields]), "utf8");
}

function dkgError(message: string): CreditMeshError {
  return new CreditMeshError("VALIDATION_FAILED", message);
}

export function checkSession(session: DkgSession): void {
  checkThreshold(session.threshold);
  if (session.id === "") throw dkgError("DKG session id is empty");
  for (const [role, list] of [["dealer", session.dealers], ["recipient", session.recipients]] as const) {
    const indices = list.map((p) => p.index);
    if (new Set(indices).size !== indices.length) throw dkgError(`DKG ${role} indices repeat`);
    lagrangeAtZero(indices); // range-checks every index
  }
  if (session.recipients.length < session.threshold) {
    throw dkgError(`threshold ${session.threshold} exceeds the ${session.recipients.length} recipients`);
  }
  if (session.reshare && session.dealers.length < session.reshare.threshold) {
    throw dkgError(`resharing needs at least ${session.reshare.threshold} old members dealing, got ${session.dealers.length}`);
  }
}

function participant(list: readonly Participant[], index: number): Participant | undefined {
  return list.find((p) => p.index === index);
}

function pokChallenge(session: string, dealer: number, c0: Uint8Array, r: Uint8Array): Scalar {
  return hashToScalar([payload("pok", session, dealer, hex(c0), hex(r))], POK_TAGS.hashToScalar);
}

/** Round 1 of a dealer. `constant` is its old share when resharing, absent for a fresh key. */
export function dealRound1(session: DkgSession, index: number, signer: Signer, constant?: KeyShare): { message: DealerCommitment; state: DealerState } {
  checkSession(session);
  if (!participant(session.dealers, index)) throw dkgError(`${index} is not a dealer of session ${session.id}`);
  if (session.reshare && (constant === undefined || constant.index !== index)) {
    throw dkgError("resharing: a dealer deals its own old share");
  }
  const coefficients = randomPolynomial(constant?.secret ?? randomScalar(), session.threshold);
  const points = coefficients.map((a) => RP.BASE.multiply(a));
  const c0 = points[0].toBytes();
  if (session.reshare && session.reshare.publicShares[index] !== hex(c0)) {
    throw dkgError(`resharing: share ${index} does not match the published public share`);
  }
  const nonce = randomScalar();
  const r = RP.BASE.multiply(nonce).toBytes();
  const z = Fn.add(nonce, Fn.mul(pokChallenge(session.id, index, c0, r), coefficients[0]));
  const body = { session: session.id, dealer: index, commitments: points.map((p) => p.toHex()), proofR: hex(r), proofZ: hex(scalarToBytes(z)) };
  const signature = hex(signer.sign(payload("commitment", body.session, body.dealer, body.commitments, body.proofR, body.proofZ)));
  return { message: { ...body, signature }, state: { session, index, coefficients } };
}

/** Round 1 of a recipient: an encryption key for its round-2 shares. Keep `secret` until round 2 is done. */
export function announceRecipient(session: DkgSession, index: number, signer: Signer): { message: RecipientKey; secret: Scalar } {
  checkSession(session);
  if (!participant(session.recipients, index)) throw dkgError(`${index} is not a recipient of session ${session.id}`);
  const secret = randomScalar();
  const encryptionKey = RP.BASE.multiply(secret).toHex();
  const signature = hex(signer.sign(payload("recipient-key", session.id, index, encryptionKey)));
  return { message: { session: session.id, recipient: index, encryptionKey, signature }, secret };
}

function decodePoint(h: string): Point | undefined {
  try {
    const p = RP.fromHex(h);
    return p.is0() ? undefined : p;
  } catch {
    return undefined;
  }
}

/** The reason a dealer's round-1 message is unacceptable, or undefined. */
function commitmentProblem(session: DkgSession, m: DealerCommitment): string | undefined {
  const dealer = participant(session.dealers, m.dealer);
  if (!dealer) return "not a dealer of this session";
  if (m.session !== session.id) return "another session";
  const signed = payload("commitment", m.session, m.dealer, m.commitments, m.proofR, m.proofZ);
  if (!verifySignature(dealer.signingKey, signed, unhex(m.signature))) return "bad signature";
  if (!Array.isArray(m.commitments) || m.commitments.length !== session.threshold) {
    return `needs ${session.threshold} commitments, got ${m.commitments?.length}`;
  }
  const points = m.commitments.map(decodePoint);
  if (points.some((p) => p === undefined)) return "a commitment is not a group element";
  const r = decodePoint(m.proofR);
  const z = scalarFromBytes(unhex(m.proofZ));
  if (!r || z === undefined) return "malformed proof of knowledge";
  const c0 = points[0]!;
  const c = pokChallenge(m.session, m.dealer, c0.toBytes(), r.toBytes());
  if (!RP.BASE.multiply(z).equals(r.add(c0.multiply(c)))) return "proof of knowledge does not verify";
  if (session.reshare && session.reshare.publicShares[m.dealer] !== c0.toHex()) return "a_0 is not its published share";
  return undefined;
}

/**
 * Checks every round-1 message. A dealer with a bad or missing message is
 * disqualified (named with the reason); a missing or bad recipient key stops
 * the run, since that recipient could not receive its share.
 */
export function verifyRound1(session: DkgSession, round1: Round1): VerifiedRound1 {
  checkSession(session);
  const commitments = new Map<number, Point[]>();
  const disqualified = new Map<number, string>();
  for (const m of round1.commitments) {
    if (commitments.has(m.dealer) || disqualified.has(m.dealer)) {
      disqualified.set(m.dealer, "sent more than one round-1 message");
      commitments.delete(m.dealer);
      continue;
    }
    const problem = commitmentProblem(session, m);
    if (problem) disqualified.set(m.dealer, problem);
    else commitments.set(m.dealer, m.commitments.map((h) => RP.fromHex(h)));
  }
  for (const d of session.dealers) {
    if (!commitments.has(d.index) && !disqualified.has(d.index)) disqualified.set(d.index, "sent no round-1 message");
  }
  const recipientKeys = new Map<number, Uint8Array>();
  for (const r of session.recipients) {
    const msgs = round1.recipientKeys.filter((k) => k.recipient === r.index);
    if (msgs.length !== 1) throw dkgError(`recipient ${r.index} sent ${msgs.length} encryption keys, expected 1`);
    const m = msgs[0];
    const key = decodePoint(m.encryptionKey);
    if (m.session !== session.id || !key || !verifySignature(r.signingKey, payload("recipient-key", m.session, m.recipient, m.encryptionKey), unhex(m.signature))) {
      throw dkgError(`recipient ${r.index}'s encryption key is invalid`);
    }
    recipientKeys.set(r.index, key.toBytes());
  }
  const verified = { session, commitments, recipientKeys, disqualified };
  requireEnoughDealers(verified, qualifiedDealers(verified));
  return verified;
}

/** What every participant signs in the echo round: the round-1 set it received, in a fixed order. */
export function round1Digest(session: DkgSession, round1: Round1): string {
  const commitments = [...round1.commitments].sort((a, b) => a.dealer - b.dealer || a.signature.localeCompare(b.signature));
  const keys = [...round1.recipientKeys].sort((a, b) => a.recipient - b.recipient || a.signature.localeCompare(b.signature));
  const h = createHash("sha512");
  h.update(payload("round1", session.id, session.threshold, session.dealers.map((d) => [d.index, hex(d.signingKey)]),
    session.recipients.map((r) => [r.index, hex(r.signingKey)]), session.reshare ?? null, commitments, keys));
  return h.digest("hex").slice(0, 64);
}

export function echo(session: DkgSession, digest: string, signer: Signer): Echo {
  const signerHex = hex(signer.publicKey);
  return { session: session.id, signer: signerHex, digest, signature: hex(signer.sign(payload("echo", session.id, signerHex, digest))) };
}

/**
 * Every participant (dealer or recipient) must have echoed `digest`, with a
 * valid signature. Otherwise the run stops: CONFLICT naming who saw another
 * round 1, or UNAVAILABLE naming who did not echo.
 */
export function checkEchoes(session: DkgSession, digest: string, echoes: readonly Echo[]): void {
  const members = new Set([...session.dealers, ...session.recipients].map((p) => hex(p.signingKey)));
  const differing: string[] = [];
  const confirmed = new Set<string>();
  for (const e of echoes) {
    if (!members.has(e.signer) || e.session !== session.id) continue;
    if (!verifySignature(unhex(e.signer), payload("echo", e.session, e.signer, e.digest), unhex(e.signature))) continue;
    if (e.digest === digest) confirmed.add(e.signer);
    else differing.push(e.signer);
  }
  if (differing.length > 0) {
    throw new CreditMeshError("CONFLICT", `round 1 of ${session.id} was not broadcast consistently: members ${differing.join(", ")} saw another set`);
  }
  const missing = [...members].filter((m) => !confirmed.has(m));
  if (missing.length > 0) throw new CreditMeshError("UNAVAILABLE", `round 1 of ${session.id} lacks the echo of members ${missing.join(", ")}`);
}

function shareKey(session: string, dealer: number, recipient: number, ephemeral: Uint8Array, shared: Uint8Array): Buffer {
  return createHash("sha512").update(payload("share-key", session, dealer, recipient, hex(ephemeral), hex(shared))).digest().subarray(0, 32);
}

const shareAd = (s: Pick<EncryptedShare, "session" | "dealer" | "recipient" | "ephemeralKey">) =>
  payload("share-ad", s.session, s.dealer, s.recipient, s.ephemeralKey);
const shareSigned = (s: Omit<EncryptedShare, "signature">) =>
  payload("share", s.session, s.dealer, s.recipient, s.ephemeralKey, s.nonce, s.ciphertext);

/** Round 2 of a dealer: f(j) for every recipient j, encrypted to j's key and signed. */
export function dealRound2(state: DealerState, verified: VerifiedRound1, signer: Signer): EncryptedShare[] {
  return state.session.recipients.map((r) => {
    const value = evaluatePolynomial(state.coefficients, r.index);
    const y = randomScalar();
    const ephemeral = RP.BASE.multiply(y).toBytes();
    const shared = RP.fromBytes(verified.recipientKeys.get(r.index)!).multiply(y).toBytes();
    const header = { session: state.session.id, dealer: state.index, recipient: r.index, ephemeralKey: hex(ephemeral) };
    const nonce = randomBytes(sodium.crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
    const plain = scalarToBytes(value);
    const cipher = Buffer.alloc(plain.length + sodium.crypto_aead_xchacha20poly1305_ietf_ABYTES);
    sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(cipher, plain, shareAd(header), null, nonce, shareKey(header.session, header.dealer, header.recipient, ephemeral, shared));
    return signShare({ ...header, nonce: hex(nonce), ciphertext: hex(cipher) }, signer);
  });
}

export function signShare(body: Omit<EncryptedShare, "signature">, signer: Signer): EncryptedShare {
  return { ...body, signature: hex(signer.sign(shareSigned(body))) };
}

function decryptShare(s: EncryptedShare, shared: Uint8Array): Scalar | undefined {
  const cipher = unhex(s.ciphertext);
  if (cipher.length !== 32 + sodium.crypto_aead_xchacha20poly1305_ietf_ABYTES) return undefined;
  const plain = Buffer.alloc(32);
  try {
    sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(plain, null, cipher, shareAd(s), unhex(s.nonce), shareKey(s.session, s.dealer, s.recipient, unhex(s.ephemeralKey), shared));
  } catch {
    return undefined;
  }
  return scalarFromBytes(plain);
}

/** Σ_k j^k·C_k: what f(j)·G must be. */
function expectedSharePoint(commitments: readonly Point[], j: number): Point {
  let acc = RP.ZERO;
  for (let k = commitments.length - 1; k >= 0; k--) acc = acc.multiplyUnsafe(BigInt(j)).add(commitments[k]);
  return acc;
}

function shareProblem(verified: VerifiedRound1, s: EncryptedShare, shared: Uint8Array): string | undefined {
  const value = decryptShare(s, shared);
  if (value === undefined) return "the share does not decrypt";
  const commitments = verified.commitments.get(s.dealer)!;
  if (!RP.BASE.multiply(value).equals(expectedSharePoint(commitments, s.recipient))) return "the share does not match the dealer's commitments";
  return undefined;
}

function validShareSignature(session: DkgSession, s: EncryptedShare): boolean {
  const dealer = participant(session.dealers, s.dealer);
  const { signature, ...body } = s;
  return !!dealer && s.session === session.id && verifySignature(dealer.signingKey, shareSigned(body), unhex(signature));
}

const complaintSigned = (c: Omit<Complaint, "signature">) =>
  payload("complaint", c.session, c.dealer, c.recipient, c.share ?? null, c.sharedSecret ?? null, c.proof ?? null);

/**
 * Round 2 at recipient `index`: decrypts and checks the share of every
 * dealer still qualified; each failure becomes a signed complaint to
 * broadcast (the shares it accepted are returned by dealer).
 */
export function receiveRound2(
  verified: VerifiedRound1, index: number, secret: Scalar, shares: readonly EncryptedShare[], signer: Signer,
): { accepted: Map<number, Scalar>; complaints: Complaint[] } {
  const { session } = verified;
  const accepted = new Map<number, Scalar>();
  const complaints: Complaint[] = [];
  for (const dealer of verified.commitments.keys()) {
    const s = shares.find((x) => x.dealer === dealer && x.recipient === index && validShareSignature(session, x));
    if (!s) {
      const body = { session: session.id, dealer, recipient: index };
      complaints.push({ ...body, signature: hex(signer.sign(complaintSigned(body))) });
      continue;
    }
    const ephemeral = decodePoint(s.ephemeralKey);
    const shared = ephemeral ? ephemeral.multiply(secret).toBytes() : undefined;
    const problem = shared ? shareProblem(verified, s, shared) : "the share's ephemeral key is not a group element";
    if (problem === undefined) {
      accepted.set(dealer, decryptShare(s, shared!)!);
      continue;
    }
    complaints.push(makeComplaint(verified, index, secret, s, signer));
  }
  return { accepted, complaints };
}

/**
 * A signed complaint against the dealer of `share`, revealing the ECDH secret
 * of that one share with a DLEQ proof (log_G(E_j) = log_Y(K)), so that anyone
 * can decrypt it and check it against the dealer's commitments.
 */
export function makeComplaint(verified: VerifiedRound1, index: number, secret: Scalar, share: EncryptedShare, signer: Signer): Complaint {
  const myKey = verified.recipientKeys.get(index)!;
  const ephemeral = decodePoint(share.ephemeralKey);
  let revealed: { sharedSecret?: string; proof?: string } = {};
  if (ephemeral) {
    const y = ephemeral.toBytes();
    const { evaluated, proof } = evaluateBatch(secret, myKey, [decodeElement(y)], [y], randomScalar(), COMPLAINT_TAGS);
    revealed = { sharedSecret: hex(evaluated[0]), proof: hex(proof) };
  }
  const body = { session: verified.session.id, dealer: share.dealer, recipient: index, share, ...revealed };
  return { ...body, signature: hex(signer.sign(complaintSigned(body))) };
}

/** Decides a complaint from public data alone: which of the two lied. */
export function judgeComplaint(verified: VerifiedRound1, c: Complaint): Verdict {
  const { session } = verified;
  const recipient = participant(session.recipients, c.recipient);
  const { signature, ...body } = c;
  if (!recipient || c.session !== session.id || !verifySignature(recipient.signingKey, complaintSigned(body), unhex(signature))) {
    throw dkgError(`complaint against dealer ${c.dealer} is not signed by recipient ${c.recipient}`);
  }
  const blame = (guilty: Verdict["guilty"], reason: string): Verdict => ({ guilty, index: guilty === "dealer" ? c.dealer : c.recipient, reason });
  if (!verified.commitments.has(c.dealer)) return blame("dealer", "already disqualified in round 1");
  // A dealer answers a "no share" complaint by publishing its signed share; until then it is at fault.
  if (!c.share) return blame("dealer", "delivered no share");
  if (!validShareSignature(session, c.share) || c.share.dealer !== c.dealer || c.share.recipient !== c.recipient) {
    return blame("recipient", "the share quoted is not the dealer's signed share");
  }
  const ephemeral = decodePoint(c.share.ephemeralKey);
  if (!ephemeral) return blame("dealer", "the share's ephemeral key is not a group element");
  const shared = c.sharedSecret ? decodePoint(c.sharedSecret) : undefined;
  if (!shared || !c.proof) return blame("recipient", "the complaint reveals no shared secret");
  const key = verified.recipientKeys.get(c.recipient)!;
  let ok = false;
  try {
    ok = verifyBatch(key, elementFromBytes(key), [elementFromBytes(ephemeral.toBytes())], [ephemeral.toBytes()],
      [decodeElement(shared.toBytes())], [shared.toBytes()], unhex(c.proof), COMPLAINT_TAGS);
  } catch (err) {
    if (!(err instanceof InvalidElementError)) throw err;
  }
  if (!ok) return blame("recipient", "the revealed shared secret is not proven");
  const problem = shareProblem(verified, c.share, shared.toBytes());
  return problem ? blame("dealer", problem) : blame("recipient", "the share is valid");
}

/** Dealers whose contribution counts, after round-1 checks and upheld complaints. */
export function qualifiedDealers(verified: VerifiedRound1, verdicts: readonly Verdict[] = []): number[] {
  const out = new Set(verified.commitments.keys());
  for (const v of verdicts) if (v.guilty === "dealer") out.delete(v.index);
  return [...out].sort((a, b) => a - b);
}

function requireEnoughDealers(verified: VerifiedRound1, qualified: readonly number[]): void {
  const needed = verified.session.reshare?.threshold ?? 1;
  if (qualified.length < needed) {
    const why = [...verified.disqualified].map(([i, r]) => `${i}: ${r}`).join("; ");
    throw new CreditMeshError("UNAVAILABLE", `DKG ${verified.session.id}: ${qualified.length} qualified dealers, ${needed} needed (${why})`);
  }
}

/** Weight of each counted dealer: 1 for a fresh key; Lagrange over the first t_old dealers when resharing. */
function dealerWeights(verified: VerifiedRound1, qualified: readonly number[]): Map<number, Scalar> {
  requireEnoughDealers(verified, qualified);
  const reshare = verified.session.reshare;
  if (!reshare) return new Map(qualified.map((i) => [i, 1n]));
  const counted = qualified.slice(0, reshare.threshold);
  const lambdas = lagrangeAtZero(counted);
  return new Map(counted.map((i, k) => [i, lambdas[k]]));
}

export interface CommitteeKey {
  threshold: number;
  publicKey: string;
  /** Public share k_j·G of every recipient j, hex. */
  publicShares: Record<number, string>;
}

/** The new committee's public key and shares, computable by anyone from round 1 and the verdicts. */
export function committeeKey(verified: VerifiedRound1, qualified: readonly number[]): CommitteeKey {
  const weights = dealerWeights(verified, qualified);
  const weighted = (f: (c: Point[]) => Point) =>
    [...weights].reduce((acc, [i, w]) => acc.add(f(verified.commitments.get(i)!).multiply(w)), RP.ZERO);
  const publicKey = weighted((c) => c[0]).toHex();
  if (verified.session.reshare && publicKey !== verified.session.reshare.publicKey) {
    throw new CreditMeshError("INTERNAL", "resharing changed the group key");
  }
  const publicShares: Record<number, string> = {};
  for (const r of verified.session.recipients) publicShares[r.index] = weighted((c) => expectedSharePoint(c, r.index)).toHex();
  return { threshold: verified.session.threshold, publicKey, publicShares };
}

/** Recipient `index`'s share of the new key from the shares it accepted. */
export function finishRecipient(verified: VerifiedRound1, qualified: readonly number[], index: number, accepted: ReadonlyMap<number, Scalar>): KeyShare {
  const weights = dealerWeights(verified, qualified);
  let secret = 0n;
  for (const [dealer, w] of weights) {
    const s = accepted.get(dealer);
    if (s === undefined) throw new CreditMeshError("INTERNAL", `no accepted share from qualified dealer ${dealer}`);
    secret = Fn.add(secret, Fn.mul(w, s));
  }
  if (secret === 0n) throw new CreditMeshError("INTERNAL", "the combined share is zero");
  return { index, secret };
}
