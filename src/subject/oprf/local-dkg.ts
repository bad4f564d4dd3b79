import type { NodeKey } from "../../identity/node-key.js";
import {
  announceRecipient, checkEchoes, committeeKey, dealRound1, dealRound2, echo, finishRecipient, judgeComplaint, qualifiedDealers,
  receiveRound2, round1Digest, verifyRound1, type CommitteeKey, type DealerState, type DkgSession, type Round1,
} from "./dkg.js";
import type { KeyShare } from "./threshold.js";

/**
 * A key generation with every participant in this process, for a local
 * committee whose members' node keys one operator holds (a test network).
 * The messages are the real DKG's and are checked as the real DKG checks
 * them, but the key exists in one process for a moment: a production
 * committee runs each participant on its own member.
 */
export function runLocalDkg(opts: { id: string; threshold: number; members: readonly { index: number; key: NodeKey }[] }): { shares: KeyShare[]; key: CommitteeKey } {
  const participants = opts.members.map((m) => ({ index: m.index, signingKey: m.key.publicKey }));
  const session: DkgSession = { id: opts.id, threshold: opts.threshold, dealers: participants, recipients: participants };
  const round1: Round1 = { commitments: [], recipientKeys: [] };
  const states: DealerState[] = opts.members.map((m) => {
    const { message, state } = dealRound1(session, m.index, m.key);
    round1.commitments.push(message);
    return state;
  });
  const secrets = opts.members.map((m) => {
    const { message, secret } = announceRecipient(session, m.index, m.key);
    round1.recipientKeys.push(message);
    return secret;
  });
  const digest = round1Digest(session, round1);
  checkEchoes(session, digest, opts.members.map((m) => echo(session, digest, m.key)));
  const verified = verifyRound1(session, round1);
  const delivered = states.flatMap((st, k) => dealRound2(st, verified, opts.members[k].key));
  const received = opts.members.map((m, k) => receiveRound2(verified, m.index, secrets[k], delivered, m.key));
  const verdicts = received.flatMap((r) => r.complaints).map((c) => judgeComplaint(verified, c));
  const qualified = qualifiedDealers(verified, verdicts);
  const shares = opts.members.map((m, k) => finishRecipient(verified, qualified, m.index, received[k].accepted));
  return { shares, key: committeeKey(verified, qualified) };
}
