/**
 * Gossipsub's fast message id: what its seen-cache looks a copy up by before
 * verifying the copy's signature. Every message here is signed by its
 * publisher over sender, sequence number, topic and data (StrictSign), so
 * the signature names the message; gossipsub caches an id only after the
 * message carrying it was verified, so a copy with a borrowed signature and
 * other content is dropped as the duplicate of a message already delivered.
 * An unsigned message never verifies, so its id is never cached.
 */
export function gossipFastMsgId(msg: { signature?: Uint8Array }): string {
  return msg.signature === undefined || msg.signature.length === 0 ? "unsigned" : Buffer.from(msg.signature.buffer, msg.signature.byteOffset, msg.signature.length).toString("base64");
}
