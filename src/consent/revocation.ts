import { Revocation } from "../gen/creditmesh/v1/consent.js";
import { Signed } from "../gen/creditmesh/v1/peer.js";
import type { Signer } from "./artefact.js";

/**
 * A revocation as it travels (gossip and the revocations protocol) and as its
 * issuer keeps it: the encoded Revocation signed by the grantee's node key.
 */
export function sealRevocation(revocation: Revocation, signer: Signer): Uint8Array {
  const body = Revocation.encode(revocation).finish();
  return Signed.encode({ body: Buffer.from(body), signature: Buffer.from(signer.sign(body)) }).finish();
}
