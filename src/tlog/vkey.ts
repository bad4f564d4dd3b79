import { SIG_COSIGNATURE_V1, SIG_ED25519, verifierKey } from "./note.js";

/**
 * The verifier keys a member's node publishes. The log key and the witness
 * key are the node's one Ed25519 key under two key types (0x01 signs its own
 * checkpoints, 0x04 cosigns others'): the key id differs, and the two signed
 * messages cannot be confused (cosignatures start with "cosignature/v1").
 */
export function logVerifierKey(institutionId: string, publicKey: Uint8Array): string {
  return verifierKey(institutionId, publicKey, SIG_ED25519);
}

export function witnessVerifierKey(institutionId: string, publicKey: Uint8Array): string {
  return verifierKey(institutionId, publicKey, SIG_COSIGNATURE_V1);
}
