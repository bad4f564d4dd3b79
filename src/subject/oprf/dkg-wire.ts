import type { DkgComplaint, DkgEncryptedShare } from "../../gen/creditmesh/v1/dkg.js";
import type { Complaint, EncryptedShare } from "./dkg.js";

/**
 * dkg.ts messages and their proto form have the same fields; these rebuild
 * them field by field because a complaint signs the quoted share as JSON,
 * whose bytes depend on key order and on absent vs empty fields.
 */

export function shareFromWire(s: DkgEncryptedShare): EncryptedShare {
  return {
    session: s.session, dealer: s.dealer, recipient: s.recipient, ephemeralKey: s.ephemeralKey,
    nonce: s.nonce, ciphertext: s.ciphertext, signature: s.signature,
  };
}

export function complaintFromWire(c: DkgComplaint): Complaint {
  return {
    session: c.session, dealer: c.dealer, recipient: c.recipient,
    ...(c.share ? { share: shareFromWire(c.share) } : {}),
    ...(c.sharedSecret !== undefined ? { sharedSecret: c.sharedSecret } : {}),
    ...(c.proof !== undefined ? { proof: c.proof } : {}),
    signature: c.signature,
  };
}

export function complaintToWire(c: Complaint): DkgComplaint {
  return { session: c.session, dealer: c.dealer, recipient: c.recipient, share: c.share, sharedSecret: c.sharedSecret, proof: c.proof, signature: c.signature };
}
