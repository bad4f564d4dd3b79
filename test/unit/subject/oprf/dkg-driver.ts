import { generateNodeKey, type NodeKey } from "../../../../src/identity/node-key.js";
import {
  announceRecipient, checkEchoes, committeeKey, dealRound1, dealRound2, echo, finishRecipient, judgeComplaint, qualifiedDealers,
  receiveRound2, round1Digest, verifyRound1, type CommitteeKey, type Complaint, type DealerState, type DkgSession,
  type EncryptedShare, type Participant, type ReshareOf, type Round1, type Verdict, type VerifiedRound1,
} from "../../../../src/subject/oprf/dkg.js";
import type { Scalar } from "../../../../src/subject/oprf/suite.js";
import type { KeyShare } from "../../../../src/subject/oprf/threshold.js";

/** Members of a test committee: a node key each, indexed 1..n. */
export function members(n: number): { keys: NodeKey[]; participants: Participant[] } {
  const keys = Array.from({ length: n }, () => generateNodeKey());
  return { keys, participants: keys.map((k, i) => ({ index: i + 1, signingKey: k.publicKey })) };
}

export interface Tamper {
  /** Rewrites a dealer's round-2 output before delivery. */
  round2?: (ctx: { state: DealerState; verified: VerifiedRound1; key: NodeKey; shares: EncryptedShare[] }) => EncryptedShare[];
  /** Extra complaints injected (false accusations), with each recipient's decryption secret by index. */
  complaints?: (ctx: { verified: VerifiedRound1; delivered: EncryptedShare[]; secrets: Map<number, Scalar> }) => Complaint[];
}

export interface DkgOutcome {
  shares: KeyShare[];
  keys: CommitteeKey[];
  verdicts: Verdict[];
  qualified: number[];
}

/**
 * Runs every participant of a DKG or reshare in this process, delivering
 * each message to everyone (tests only: in production each part runs on
 * its own member and the key never exists in one place).
 */
export function runDkg(opts: {
  id: string;
  threshold: number;
  dealers: { participants: Participant[]; keys: NodeKey[]; shares?: KeyShare[] };
  recipients: { participants: Participant[]; keys: NodeKey[] };
  reshare?: ReshareOf;
  tamper?: Tamper;
}): DkgOutcome {
  const session: DkgSession = {
    id: opts.id, threshold: opts.threshold, dealers: opts.dealers.participants, recipients: opts.recipients.participants, reshare: opts.reshare,
  };
  const states: DealerState[] = [];
  const round1: Round1 = { commitments: [], recipientKeys: [] };
  opts.dealers.participants.forEach((p, k) => {
    const { message, state } = dealRound1(session, p.index, opts.dealers.keys[k], opts.dealers.shares?.[k]);
    round1.commitments.push(message);
    states.push(state);
  });
  const secrets = opts.recipients.participants.map((p, k) => {
    const { message, secret } = announceRecipient(session, p.index, opts.recipients.keys[k]);
    round1.recipientKeys.push(message);
    return secret;
  });
  const digest = round1Digest(session, round1);
  const allKeys = [...opts.dealers.keys, ...opts.recipients.keys.filter((k) => !opts.dealers.keys.includes(k))];
  checkEchoes(session, digest, allKeys.map((k) => echo(session, digest, k)));
  const verified = verifyRound1(session, round1);

  const delivered: EncryptedShare[] = states.flatMap((st, k) => {
    const shares = dealRound2(st, verified, opts.dealers.keys[k]);
    return opts.tamper?.round2 ? opts.tamper.round2({ state: st, verified, key: opts.dealers.keys[k], shares }) : shares;
  });
  const received = opts.recipients.participants.map((p, k) => receiveRound2(verified, p.index, secrets[k], delivered, opts.recipients.keys[k]));
  const complaints = [...received.flatMap((r) => r.complaints), ...(opts.tamper?.complaints?.({ verified, delivered, secrets: new Map(opts.recipients.participants.map((p, k) => [p.index, secrets[k]])) }) ?? [])];
  const verdicts = complaints.map((c) => judgeComplaint(verified, c));
  const qualified = qualifiedDealers(verified, verdicts);
  const honest = opts.recipients.participants.filter((p) => !verdicts.some((v) => v.guilty === "recipient" && v.index === p.index));
  const shares = honest.map((p) => finishRecipient(verified, qualified, p.index, received[opts.recipients.participants.indexOf(p)].accepted));
  const keys = honest.map(() => committeeKey(verified, qualified));
  return { shares, keys, verdicts, qualified };
}
