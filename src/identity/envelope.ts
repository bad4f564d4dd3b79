import type { Signed } from "../gen/creditmesh/v1/peer.js";
import { verifyByPeerId, type NodeKey } from "./node-key.js";

/**
 * A protobuf body and its sender's signature over exactly those bytes. The
 * signature covers the encoded bytes, not a re-encoding of a decoded message,
 * so verification never depends on encoder determinism.
 */
export type SignedBody = Signed;

export function signBody(key: Pick<NodeKey, "sign">, body: Uint8Array): SignedBody {
  const bytes = Buffer.from(body);
  return { body: bytes, signature: Buffer.from(key.sign(bytes)) };
}

/** True when `signed.signature` is `peerId`'s signature over `signed.body`. */
export function verifyBody(signed: { body: Uint8Array; signature: Uint8Array }, peerId: string): boolean {
  return verifyByPeerId(peerId, signed.body, signed.signature);
}
